package sim

import (
	"math/rand/v2"

	"viewstamp/faults"
	rio "viewstamp/replica/io"
	"viewstamp/replica/vsr"
	"viewstamp/reports"
	"viewstamp/sim/disk"
)

// storageFaults holds the run's storage fault plan when Config.StorageFaults
// is on: drawn from the seed's storage stream, so turning it on changes no
// other draw, and applied to every disk once its data file is formatted (a
// fresh install is written whole).
type storageFaults struct {
	on   bool
	plan faults.StorageFaults
}

func (c *Cluster) newStorageFaults() error {
	if !c.cfg.StorageFaults {
		return nil
	}
	plan, err := faults.DrawStorage(c.opts.Seed, c.cfg.StorageFaultsOff)
	if err != nil {
		return err
	}
	c.sfaults = storageFaults{on: true, plan: plan}
	rng := rand.New(rand.NewPCG(c.opts.Seed, faults.StorageStream+1))
	l := c.vcfg.Layout()
	var chunks disk.AtlasChunks
	chunks[rio.ZoneWALHeaders] = l.SectorSize
	chunks[rio.ZoneWALPrepares] = l.WALHeadersPerSector() * l.MessageSizeMax
	chunks[rio.ZoneClientReplies] = l.MessageSizeMax
	if plan.Grid {
		chunks[rio.ZoneGrid] = l.BlockSize
	}
	r := c.opts.ReplicaCount
	atlas := disk.NewAtlas(rng, r, int(vsr.QuorumsFor(uint8(r)).Replication), chunks)
	c.reformat.plan = faults.DrawReformats(c.opts.Seed, r, c.cfg.StorageFaultsOff)
	if rp := c.reformat.plan; rp.Replica >= 0 {
		c.reformat.rng = rand.New(rand.NewPCG(c.opts.Seed, faults.ReformatStream+1))
		atlas.Reformatted(rp.Replica)
	}
	for i, d := range c.disks {
		o := c.opts.Storage
		o.Faults = &c.sfaults.plan.Disk
		d.SetOptions(o)
		d.SetAtlas(i, atlas, l.SuperblockCopySize, rand.New(rand.NewPCG(rng.Uint64(), uint64(i))))
	}
	return nil
}

// rotDisks lets bit rot strike every disk once a tick, in replica order;
// a down replica's disk rots too.
func (c *Cluster) rotDisks() {
	if !c.sfaults.on {
		return
	}
	for _, d := range c.disks {
		d.Rot()
	}
}

func (c *Cluster) storageFaultsRecord() *reports.StorageFaults {
	if !c.sfaults.on {
		return nil
	}
	rec := &reports.StorageFaults{}
	for _, d := range c.disks {
		s := d.FaultStats()
		rec.Latent += s.Latent
		rec.BitRot += s.BitRot
		rec.Write += s.Write
		rec.MisdirectedWrite += s.MisdirectedWrite
		rec.MisdirectedRead += s.MisdirectedRead
		rec.Torn += s.Torn
		rec.Superblock += s.Superblock
		rec.CrashHead += s.CrashHead
	}
	rec.Reformats = c.reformat.done
	return rec
}
