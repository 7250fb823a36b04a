package vsr

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	rio "viewstamp/replica/io"
	"viewstamp/replica/u128"
)

// Scenario commands. Replicas are 0, 1, ...; clients c1, c2, ....
//
//	cluster replicas=3 [clients=1] [pipeline=4] [clients_max=7] [headers_per_reply=8]
//	        [settle=false]
//	    formats and opens the replicas; unless settle=false, runs the start
//	    (replica 0 may not carry on as primary of view 0 after a start, so
//	    the cluster settles in view 1) with IO and messages until quiet,
//	    printing only the resulting status.
//	register client=1 [to=R]            client opens a session
//	request client=1 [body=text] [to=R] [number=N]
//	    the next request, to the client's primary guess or to R; number=
//	    overrides its request number (a client misbehaving)
//	resend client=1 [to=R]              re-send the request in flight (to
//	                                    every replica without to=)
//	deliver [from=] [to=] [command=] [op=] [view=] [count=]
//	    delivers matching messages in flight, oldest first (all of them
//	    without count=); messages sent meanwhile wait for the next command
//	drop ... / duplicate ...            same filters
//	corrupt ... [part=header|body]      flips a byte of the matching
//	                                    messages' header (default) or body
//	net                                 lists the messages in flight
//	complete-io replica= [zone=] [count=]
//	    completes IO in issue order, including IO the completions issue
//	    (all of it without count=); zone is superblock, wal_headers or
//	    wal_prepares
//	crash replica= [torn=superblock|all|none]
//	    stops it; writes in flight are torn (land as garbage) or lost:
//	    by default superblock writes are torn and WAL writes lost
//	restart replica=                    opens it from its disk
//	tick replica=1,2|all [count=1]
//	    advances their clocks; identical lines are printed once, with ×n
//	partition 0 | 1 2 / heal            messages across groups are lost
//	stabilize [replicas=0,2] [quiet=true]
//	    IO and messages until quiet, no ticks; among the named replicas
//	    (and clients) only, if named; quiet prints only status changes,
//	    commits, evictions and what clients hear
//	status                              one line per replica and client
//	log replica=                        the replica's journal, op by op
func (s *scenario) run(d *datadriven.TestData) {
	s.pos = d.Pos
	a := args{t: s.t, d: d}
	switch d.Cmd {
	case "register", "request", "resend":
		s.cmdClient(a, d.Cmd)
	case "deliver", "drop", "duplicate", "corrupt":
		s.cmdNet(a, d.Cmd)
	case "net":
		for _, p := range s.net {
			s.emitf("%s", s.describe(p))
		}
	case "complete-io":
		s.cmdCompleteIO(a)
	case "crash":
		for _, i := range a.replicas(s, "replica", false) {
			torn := a.str("torn", "superblock")
			if torn != "superblock" && torn != "all" && torn != "none" {
				s.fatalf("torn=%s: superblock, all or none", torn)
			}
			s.crash(i, torn)
		}
	case "restart":
		for _, i := range a.replicas(s, "replica", false) {
			if s.up[i] {
				s.fatalf("replica %d is up", i)
			}
			s.emitf("r%d: restart", i)
			s.startReplica(i)
		}
	case "tick":
		s.cmdTick(a)
	case "partition":
		s.cmdPartition(d)
	case "heal":
		for i := range s.group {
			s.group[i] = 0
		}
	case "stabilize":
		only := a.replicas(s, "replicas", true)
		s.stabilize(a.str("quiet", "false") == "true", only...)
	case "status":
		s.status()
	case "log":
		for _, i := range a.replicas(s, "replica", false) {
			s.log(i)
		}
	default:
		d.Fatalf(s.t, "%s: unknown command %q", d.Pos, d.Cmd)
	}
}

func newScenario(t *testing.T, d *datadriven.TestData) *scenario {
	a := args{t: t, d: d}
	n := int(a.num("replicas", 3))
	cfg := SimConfig(uint8(n))
	if a.has("pipeline") {
		cfg.PipelineMax = a.num("pipeline", cfg.PipelineMax)
	}
	if a.has("clients_max") {
		cfg.ClientsMax = a.num("clients_max", 0)
	}
	if a.has("headers_per_reply") {
		cfg.HeadersPerReply = int(a.num("headers_per_reply", 0))
	}
	if err := cfg.Validate(); err != nil {
		d.Fatalf(t, "%s: %v", d.Pos, err)
	}
	s := &scenario{
		t: t, pos: d.Pos, cfg: cfg,
		replicas: make([]*Replica, n), disks: make([]*memStorage, n),
		up: make([]bool, n), boots: make([]uint64, n), ticks: make([]uint64, n), group: make([]int, n),
		labels: map[u128.U128]string{},
	}
	root := RootHeader(testCluster)
	s.label(&root)
	for i := 0; i < int(a.num("clients", 1)); i++ {
		s.clients = append(s.clients, &scenClient{s: s, index: i})
	}
	for i := 0; i < n; i++ {
		s.disks[i] = newMemStorage(cfg)
		Format(cfg, testCluster, uint8(i), s.disks[i], func() {})
		s.disks[i].flush()
	}
	for i := 0; i < n; i++ {
		s.emitf("r%d: open", i)
		s.startReplica(i)
	}
	if a.str("settle", "true") == "false" {
		return s
	}
	s.stabilize(true)
	s.out.Reset()
	// Clients start knowing the settled view, so that their first request
	// goes to its primary rather than by way of a backup.
	for _, c := range s.clients {
		for _, r := range s.replicas {
			c.view = max(c.view, r.view)
		}
	}
	s.status()
	return s
}

func (s *scenario) client(a args) *scenClient {
	n := int(a.num("client", 1))
	if n < 1 || n > len(s.clients) {
		s.fatalf("no client %d", n)
	}
	return s.clients[n-1]
}

func (s *scenario) cmdClient(a args, cmd string) {
	c := s.client(a)
	to := -1
	if a.has("to") {
		to = a.node(s, a.str("to", "")).i
	}
	if c.evicted {
		s.fatalf("client c%d is evicted", c.index+1)
	}
	switch cmd {
	case "register", "request":
		if c.inflight != nil {
			s.fatalf("client c%d has a request in flight", c.index+1)
		}
		if to < 0 {
			to = int(c.view % uint32(len(s.replicas)))
		}
		if cmd == "register" {
			c.submit(OperationRegister, nil, to, 0)
		} else {
			if c.session == 0 {
				s.fatalf("client c%d is not registered", c.index+1)
			}
			c.submit(scenOperation, []byte(a.str("body", fmt.Sprintf("r%d", c.request+1))), to, uint32(a.num("number", 0)))
		}
	case "resend":
		if c.inflight == nil {
			s.fatalf("client c%d has no request in flight", c.index+1)
		}
		c.sendTo(to)
	}
}

func (s *scenario) cmdNet(a args, cmd string) {
	f := a.filter(s)
	count := int(a.num("count", 1<<30))
	snapshot := s.net
	var keep, picked []*inflight
	for _, p := range snapshot {
		if len(picked) < count && f.match(p) {
			picked = append(picked, p)
		} else {
			keep = append(keep, p)
		}
	}
	if len(picked) == 0 {
		s.fatalf("%s: no message in flight matches", cmd)
	}
	switch cmd {
	case "deliver":
		s.net = keep
		for _, p := range picked {
			s.deliver(p)
		}
	case "drop":
		s.net = keep
		start := s.out.Len()
		for _, p := range picked {
			s.emitf("dropped %s", s.describe(p))
		}
		s.collapse(start)
	case "corrupt":
		part := a.str("part", "header")
		for _, p := range picked {
			b := append([]byte(nil), p.b...)
			switch {
			case part == "header":
				// Inside the command-specific fields, covered by the
				// header checksum only.
				b[HeaderSize-8] ^= 0x01
			case part == "body" && len(b) > HeaderSize:
				b[HeaderSize] ^= 0x01
			default:
				s.fatalf("corrupt part=%s: no such part in %s", part, s.describe(p))
			}
			p.b, p.corrupt = b, part
			s.emitf("corrupted %s", s.describe(p))
		}
	case "duplicate":
		for _, p := range picked {
			c := *p
			s.net = append(s.net, &c)
			s.emitf("duplicated %s", s.describe(p))
		}
	}
}

func (s *scenario) cmdCompleteIO(a args) {
	zone := -1
	if a.has("zone") {
		z, ok := zoneByName(a.str("zone", ""))
		if !ok {
			s.fatalf("no zone %q", a.str("zone", ""))
		}
		zone = int(z)
	}
	count := int(a.num("count", 1<<30))
	for _, i := range a.replicas(s, "replica", false) {
		if !s.up[i] {
			s.fatalf("replica %d is down", i)
		}
		n := 0
		for n < count && s.completeOne(i, zone) {
			n++
		}
		if n == 0 {
			s.fatalf("replica %d has no IO pending", i)
		}
	}
}

func (s *scenario) crash(i int, torn string) {
	if !s.up[i] {
		s.fatalf("replica %d is already down", i)
	}
	d := s.disks[i]
	s.emitf("r%d: crashed", i)
	for _, o := range d.pending {
		switch {
		case !o.write:
			continue
		case torn == "all" || (torn == "superblock" && o.zone == rio.ZoneSuperblock):
			s.emitf("  torn write %s", s.describeIO(o))
			for k := uint64(0); k < s.cfg.SectorSize && k < uint64(len(o.buf)); k++ {
				d.zones[o.zone][o.off+k] = 0xa5
			}
		default:
			s.emitf("  lost write %s", s.describeIO(o))
		}
	}
	d.pending = nil
	s.up[i] = false
}

func (s *scenario) cmdTick(a args) {
	var rs []int
	if a.has("replica") {
		rs = a.replicas(s, "replica", false)
	}
	if len(rs) == 0 {
		s.fatalf("tick needs replica=")
	}
	count := a.num("count", 1)
	start := s.out.Len()
	for t := uint64(0); t < count; t++ {
		for _, i := range rs {
			if s.up[i] {
				s.ticks[i]++
				s.replicas[i].Tick()
			}
		}
	}
	// Long ticks repeat themselves (heartbeats, re-sent votes).
	s.collapse(start)
}

// collapse prints each distinct line of the output since start once, where
// it first appeared, with how often it did.
func (s *scenario) collapse(start int) {
	lines := strings.Split(strings.TrimSuffix(s.out.String()[start:], "\n"), "\n")
	s.out.Truncate(start)
	var order []string
	seen := map[string]int{}
	for _, l := range lines {
		if l == "" {
			continue
		}
		if _, ok := seen[l]; !ok {
			order = append(order, l)
		}
		seen[l]++
	}
	for _, l := range order {
		if n := seen[l]; n > 1 {
			fmt.Fprintf(&s.out, "%s (×%d)\n", l, n)
		} else {
			s.out.WriteString(l + "\n")
		}
	}
}

func (s *scenario) cmdPartition(d *datadriven.TestData) {
	g := 0
	for i := range s.group {
		s.group[i] = -1
	}
	for _, arg := range d.CmdArgs {
		if arg.Key == "|" {
			g++
			continue
		}
		n := args{t: s.t, d: d}.node(s, arg.Key)
		s.group[n.i] = g
	}
	for i, x := range s.group {
		if x < 0 {
			s.fatalf("partition leaves replica %d out", i)
		}
	}
}

// stabilize completes IO and delivers messages until neither is left, among
// the replicas only (all if none are named) and clients: messages to or from
// other replicas stay in flight.
func (s *scenario) stabilize(quiet bool, only ...int) {
	in := make([]bool, len(s.replicas))
	for _, i := range only {
		in[i] = true
	}
	if len(only) == 0 {
		for i := range in {
			in[i] = true
		}
	}
	among := func(n node) bool { return n.client || in[n.i] }
	start := s.out.Len()
	for step := 0; ; step++ {
		if step > scenarioStepsMax {
			s.fatalf("stabilize: still busy after %d steps", scenarioStepsMax)
		}
		busy := false
		for i := range s.replicas {
			for in[i] && s.up[i] && s.completeOne(i, -1) {
				busy = true
			}
		}
		ps := s.net
		s.net = nil
		for _, p := range ps {
			if among(p.from) && among(p.to) {
				busy = true
				s.deliver(p)
			} else {
				s.net = append(s.net, p)
			}
		}
		if !busy {
			break
		}
	}
	if quiet {
		// Keep what changed state: status changes, commits, client news.
		lines := strings.Split(s.out.String()[start:], "\n")
		s.out.Truncate(start)
		for _, l := range lines {
			t := strings.TrimSpace(l)
			if strings.Contains(t, ": commit op=") || strings.Contains(t, ": normal view=") ||
				strings.Contains(t, ": view_change view=") || strings.Contains(t, "evict") ||
				(strings.HasPrefix(t, "c") && strings.Contains(t, ": ")) {
				s.out.WriteString(t + "\n")
			}
		}
	}
}

func (s *scenario) status() {
	for i, r := range s.replicas {
		if !s.up[i] {
			s.emitf("r%d: down", i)
			continue
		}
		role := "backup"
		if r.isPrimary() {
			role = "primary"
		}
		s.emitf("r%d: %v view=%d %s log_view=%d op=%d commit=%d/%d durable_view=%d/%d io=%d",
			i, r.status, r.view, role, r.logView, r.op, r.commitMin, r.commitMax,
			r.sb.durable.View, r.sb.durable.LogView, len(s.disks[i].pending))
	}
	for _, c := range s.clients {
		state := "idle"
		switch {
		case c.evicted:
			state = "evicted"
		case c.pending != nil && c.pending.Operation == OperationRegister:
			state = "registering"
		case c.pending != nil:
			state = fmt.Sprintf("waiting for request %d", c.pending.Request)
		}
		s.emitf("c%d: session=%d request=%d %s", c.index+1, c.session, c.request, state)
	}
	if len(s.net) > 0 {
		s.emitf("%d messages in flight", len(s.net))
	}
}

// log prints replica i's journal: every op up to its head (and any header
// held beyond it), with the prepare's state and whether the header is in the
// hash-chained suffix below the head ("chained") or executed.
func (s *scenario) log(i int) {
	r := s.replicas[i]
	if !s.up[i] {
		s.emitf("r%d: down", i)
		return
	}
	hi := r.op
	for k := range r.journal.slots {
		if sl := &r.journal.slots[k]; sl.has && sl.header.Op > hi {
			hi = sl.header.Op
		}
	}
	// The chained suffix, walked here rather than asked of the replica so
	// that printing touches none of its caches.
	chained := r.op + 1
	if cur, ok := r.journal.header(r.op); ok {
		chained = r.op
		for chained > 0 {
			prev, ok := r.journal.header(chained - 1)
			if !ok || prev.Checksum != cur.Parent {
				break
			}
			cur, chained = prev, chained-1
		}
	}
	s.emitf("r%d: op=%d commit=%d/%d chained from %d", i, r.op, r.commitMin, r.commitMax, chained)
	for op := uint64(0); op <= hi; op++ {
		h, ok := r.journal.header(op)
		if !ok {
			s.emitf("  %d: -", op)
			continue
		}
		sl := r.journal.slotFor(op)
		var state []string
		switch {
		case r.journal.present(op):
			state = append(state, "durable")
		case sl.writing == h.Checksum:
			state = append(state, "writing")
		case r.journal.prepare(op) != nil:
			state = append(state, "in memory")
		default:
			state = append(state, "no prepare")
		}
		if sl.faulty {
			state = append(state, "faulty")
		}
		switch {
		case op <= r.commitMin:
			state = append(state, "executed")
		case op >= chained && op <= r.op:
			state = append(state, "chained")
		case op > r.op:
			state = append(state, "beyond head")
		}
		s.emitf("  %d: %d@v%d %s, %s", op, h.Op, h.View, s.describeOp(h, s.bodyOf(r, op)), strings.Join(state, ", "))
	}
}

func (s *scenario) bodyOf(r *Replica, op uint64) []byte {
	if p := r.journal.prepare(op); p != nil {
		return p.Body
	}
	return nil
}
