//go:build !linux

package disk

// residentPages: only Linux's mincore is asked here.
func (*Sectors) residentPages() (int, bool) { return 0, false }
