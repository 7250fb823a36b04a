package storage

import (
	"errors"
	"strings"
	"testing"

	rio "viewstamp/replica/io"
)

// The expected offsets are worked out by hand in docs/data-file.md; the grid
// start of the production preset is TigerBeetle's data_file_size_min, since
// both round up to the same block boundary.
func TestPresetLayouts(t *testing.T) {
	cases := []struct {
		name        string
		cfg         Config
		copySize    uint64
		zones       [rio.ZoneCount]Zone
		gridPadding uint64
	}{
		{"production", ProductionConfig(), 8192, [rio.ZoneCount]Zone{
			{0, 32768},
			{32768, 262144},
			{294912, 1 << 30},
			{1074036736, 64 << 20},
			{1141374976, 16 << 40},
		}, 229376},
		{"simulator", SimulatorConfig(), 8192, [rio.ZoneCount]Zone{
			{0, 32768},
			{32768, 8192},
			{40960, 131072},
			{172032, 28672},
			{200704, 256 << 20},
		}, 0},
	}
	for _, c := range cases {
		l, err := NewLayout(c.cfg)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if l.SuperblockCopySize != c.copySize || l.Zones != c.zones || l.GridPadding != c.gridPadding {
			t.Errorf("%s: copy %d zones %v padding %d, want %d %v %d", c.name, l.SuperblockCopySize, l.Zones, l.GridPadding, c.copySize, c.zones, c.gridPadding)
		}
		if l.Size != c.zones[rio.ZoneGrid].End() {
			t.Errorf("%s: size %d, want the grid's end %d", c.name, l.Size, c.zones[rio.ZoneGrid].End())
		}
	}
}

// Whatever the config, zones are in order, never overlap, are sector
// aligned, and the grid is block aligned.
func TestLayoutInvariants(t *testing.T) {
	base := SimulatorConfig()
	var cfgs []Config
	for _, slots := range []uint64{32, 48, 64, 1024} {
		for _, msg := range []uint64{4096, 8192, 1 << 20} {
			for _, clients := range []uint64{1, 7, 64} {
				for _, blockSize := range []uint64{4096, 16384, 512 << 10} {
					c := base
					c.JournalSlotCount, c.MessageSizeMax, c.ClientsMax, c.BlockSize = slots, msg, clients, blockSize
					cfgs = append(cfgs, c)
				}
			}
		}
	}
	valid := 0
	for _, c := range cfgs {
		l, err := NewLayout(c)
		if err != nil {
			continue
		}
		valid++
		var at uint64
		for z := range rio.ZoneCount {
			zone := l.Zones[z]
			if zone.Offset < at || zone.Offset%c.SectorSize != 0 || zone.Size%c.SectorSize != 0 {
				t.Fatalf("%+v: zone %v %+v overlaps or is unaligned", c, z, zone)
			}
			if z != rio.ZoneGrid && zone.Offset != at {
				t.Fatalf("%+v: gap before zone %v", c, z)
			}
			at = zone.End()
		}
		grid := l.Zones[rio.ZoneGrid]
		if grid.Offset%c.BlockSize != 0 || l.GridPadding >= c.BlockSize {
			t.Fatalf("%+v: grid at %d not block aligned (padding %d)", c, grid.Offset, l.GridPadding)
		}
		if l.BlockOffset(c.GridBlockCount)+c.BlockSize != grid.Size {
			t.Fatalf("%+v: last block does not end the grid", c)
		}
		if l.ZoneSizes()[rio.ZoneClientReplies] != c.ClientsMax*c.MessageSizeMax {
			t.Fatalf("%+v: client replies zone is not one message per session", c)
		}
	}
	if valid < len(cfgs)/3 {
		t.Fatalf("only %d of %d configs valid: the sweep tests too little", valid, len(cfgs))
	}
}

func TestLayoutSlots(t *testing.T) {
	l := MustLayout(SimulatorConfig())
	if got := l.SuperblockCopyOffset(3); got != 3*8192 {
		t.Errorf("superblock copy 3 at %d", got)
	}
	if got := l.WALPrepareOffset(31); got != 31*4096 {
		t.Errorf("WAL slot 31 at %d", got)
	}
	if got := l.ClientReplyOffset(6); got != 6*4096 {
		t.Errorf("reply slot 6 at %d", got)
	}
	if got := l.BlockOffset(1); got != 0 {
		t.Errorf("block 1 at %d", got)
	}
	if got := l.StorageSize(10); got != 200704+10*4096 {
		t.Errorf("storage size with 10 blocks: %d", got)
	}
	if l.WALHeadersPerSector() != 16 {
		t.Errorf("%d headers per sector", l.WALHeadersPerSector())
	}
	for name, f := range map[string]func(){
		"copy 4":      func() { l.SuperblockCopyOffset(4) },
		"slot 32":     func() { l.WALPrepareOffset(32) },
		"reply 7":     func() { l.ClientReplyOffset(7) },
		"block 0":     func() { l.BlockOffset(0) },
		"block max+1": func() { l.BlockOffset(SimulatorGridBlockCount + 1) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestValidateNamesTheProblem(t *testing.T) {
	cases := []struct {
		mutate func(*Config)
		want   string
	}{
		{func(c *Config) { c.SectorSize = 4095 }, "sector size"},
		{func(c *Config) { c.SectorSize = 256 }, "sector size"},
		{func(c *Config) { c.MessageSizeMax = 4097 }, "message size max"},
		{func(c *Config) { c.PipelineMax = 0 }, "pipeline max"},
		{func(c *Config) { c.PipelineMax = 64 }, "pipeline max"},
		{func(c *Config) { c.CompactionOps = 3 }, "compaction ops"},
		{func(c *Config) { c.JournalSlotCount = 40 }, "whole number of header sectors"},
		{func(c *Config) { c.JournalSlotCount, c.PipelineMax = 16, 8 }, "leaves no ops"},
		{func(c *Config) { c.JournalSlotCount = 16 }, "not longer than pipeline max"},
		{func(c *Config) { c.CompactionOps = 6 }, "whole number of bars"},
		{func(c *Config) { c.ClientsMax = 0 }, "clients max"},
		{func(c *Config) { c.BlockSize = 2048 }, "block size"},
		{func(c *Config) { c.BlockSize = 8192 }, "exceeds the message size max"},
		{func(c *Config) { c.GridBlockCount = 0 }, "grid block count"},
		{func(c *Config) { c.GridWritesMax = 0 }, "grid reads max"},
		{func(c *Config) { c.GridBlockCount = StorageSizeMax/c.BlockSize + 1 }, "storage size max"},
	}
	for _, c := range cases {
		cfg := SimulatorConfig()
		c.mutate(&cfg)
		err := cfg.Validate()
		if err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("config %+v: error %v, want one about %q", cfg, err, c.want)
		}
		if _, lerr := NewLayout(cfg); lerr == nil {
			t.Errorf("NewLayout accepted %+v", cfg)
		}
	}
	for _, cfg := range []Config{ProductionConfig(), SimulatorConfig()} {
		if err := cfg.Validate(); err != nil {
			t.Errorf("preset refused: %v", err)
		}
	}
	if SimulatorConfig().JournalSlotCount > SimulatorJournalSlotCountMax {
		t.Errorf("simulator journal exceeds %d slots", SimulatorJournalSlotCountMax)
	}
}
