package disk

import (
	"syscall"
	"unsafe"
)

// residentPages counts the pages of the store's slabs the system holds in
// memory (mincore(2)).
func (s *Sectors) residentPages() (int, bool) {
	page := syscall.Getpagesize()
	n := 0
	for c := range s.classes {
		for _, b := range s.classes[c].slabs {
			vec := make([]byte, (len(b)+page-1)/page)
			_, _, errno := syscall.Syscall(syscall.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&vec[0])))
			if errno != 0 {
				return 0, false
			}
			for _, v := range vec {
				n += int(v & 1)
			}
		}
	}
	return n * page / pageSize, true
}
