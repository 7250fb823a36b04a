package sim

import (
	"fmt"
	"math/rand/v2"

	"viewstamp/faults"
	rio "viewstamp/replica/io"
	"viewstamp/replica/vsr"
	"viewstamp/reports"
	"viewstamp/sim/disk"
)

// reformatting is the run's reformat plan (faults.DrawReformats) and what it
// did: on seeds that draw one, with storage faults on, one replica's data
// file is wiped at some of its restarts (a disk replaced while it was down)
// and formatted again with vsr.Reformat; the replica must rejoin without
// ever voting with what the old disk held.
type reformatting struct {
	plan faults.Reformats
	rng  *rand.Rand // the plan's own stream: one Float64 per restart of plan.Replica
	done uint64
}

// maybeReformat, at a restart of replica i in the safety phase, wipes and
// reformats its data file if the plan says so and the cluster can afford
// it: a reformat is drawn only for the plan's replica, while no earlier
// reformat of it is still settling, and (the atlas counting that replica
// faulty everywhere) every other replica's disk has what it lost. It
// happens only with a view-change quorum of the others healthy: the
// reformatted replica learns its view from them and cannot vote until it
// has, so with one of them in recovering_head and none able to settle it,
// the cluster would stall for good (seed 8800462 --storage-faults, three
// replicas: one in recovering_head, one reformatted, one alone). The draw
// is made whatever the cluster's state, so that the plan's stream moves
// alike.
func (c *Cluster) maybeReformat(i int) {
	rf := &c.reformat
	if rf.rng == nil || i != rf.plan.Replica || c.liveness {
		return
	}
	if rf.rng.Float64() >= rf.plan.Probability || rf.done >= uint64(rf.plan.Max) {
		return
	}
	if c.healthyOthers(i) < int(vsr.QuorumsFor(uint8(len(c.replicas))).ViewChange) {
		c.log("reformat of replica %d not drawn: fewer than a view-change quorum of others healthy", i)
		return
	}
	rf.done++
	d := c.disks[i]
	c.checks.durability.Wiped(i)
	c.checks.checkpointDurable.Wiped(i)
	c.checks.nacks.Wiped(i)
	c.checks.opened[i] = 0
	d.Wipe()
	formatted := false
	vsr.Reformat(c.vcfg, c.cluster, uint8(i), pokeStorage{d}, func() { formatted = true })
	if !formatted {
		c.fail(reports.Crash, fmt.Errorf("reformat of replica %d did not complete at once", i))
	}
	c.checks.views.Reformatted(i)
	c.record(evReformat, uint64(i), rf.done, 0)
	c.log("reformat replica %d (%d of at most %d)", i, rf.done, rf.plan.Max)
}

// reformatSettling reports whether replica i runs from a reformatted data
// file no view has settled yet: for the cluster's purposes it is down.
func (c *Cluster) reformatSettling(i int) bool {
	r := c.replicas[i]
	return r != nil && !c.down[i] && r.Reformatting()
}

// mayBeSettlingReformat reports whether replica i, up or down, may still
// run from a reformatted data file no view has settled: a down one's
// restart would tell, so a reformatted replica that is down counts.
func (c *Cluster) mayBeSettlingReformat(i int) bool {
	if c.reformat.done == 0 || i != c.reformat.plan.Replica {
		return false
	}
	return c.replicas[i] == nil || c.replicas[i].Reformatting()
}

// healthy reports whether replica i is up and can vote: not paused, done
// opening, sure of its log.
func (c *Cluster) healthy(i int) bool {
	r := c.replicas[i]
	if r == nil || c.down[i] || c.paused[i] {
		return false
	}
	s := r.Status()
	return s != vsr.StatusRecovering && s != vsr.StatusRecoveringHead && !r.Reformatting()
}

// healthyOthers counts the replicas other than i that are healthy.
func (c *Cluster) healthyOthers(i int) int {
	n := 0
	for j := range c.replicas {
		if j != i && c.healthy(j) {
			n++
		}
	}
	return n
}

// healBeforeRestart heals replica i's disk (disk.Heal) if fewer than a
// view-change quorum of the others are healthy: should it open unsure of
// its head, they could not settle it, and with it unable to vote the
// cluster might stall for good. TigerBeetle's VOPR keeps a restarting
// replica's faults only when a view-change quorum of others is healthy.
func (c *Cluster) healBeforeRestart(i int) {
	n := c.healthyOthers(i)
	if n >= int(vsr.QuorumsFor(uint8(len(c.replicas))).ViewChange) || !c.disks[i].Damaged() {
		return
	}
	c.disks[i].Heal()
	c.disksHealed++
	c.log("heal replica %d's disk before its restart: %d healthy peers", i, n)
}

// pokeStorage formats a disk synchronously (disk.Poke): a reformat happens
// while the rest of the cluster runs.
type pokeStorage struct{ d *disk.Disk }

func (p pokeStorage) Write(z rio.Zone, off uint64, buf []byte, done func()) {
	p.d.Poke(z, off, buf)
	done()
}

func (p pokeStorage) Read(rio.Zone, uint64, []byte, func()) {
	panic("sim: a format reads nothing")
}
