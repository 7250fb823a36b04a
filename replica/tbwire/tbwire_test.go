package tbwire

import "testing"

// Each layout tiles the command area, 128..256, exactly: a field written
// down at a wrong offset or width leaves a gap or an overlap.
func TestLayoutsTileTheCommandArea(t *testing.T) {
	for c, fields := range Layouts {
		next := commandArea
		for _, f := range fields {
			if f.Off != next || f.Size <= 0 {
				t.Errorf("command %d: %s at %d (%d bytes), want it at %d", c, f.Name, f.Off, f.Size, next)
			}
			next = f.Off + f.Size
		}
		if next != HeaderSize {
			t.Errorf("command %d: fields end at %d, not %d", c, next, HeaderSize)
		}
	}
}

// A header of no command, of a deprecated one, or of a number past the
// enum is refused.
func TestUnknownCommandsRefused(t *testing.T) {
	for _, c := range []byte{Reserved, 12, 21, 22, 23, commandCount} {
		b := make([]byte, HeaderSize)
		b[offSize] = 0
		b[offSize+1] = 1 // size 256
		b[offCommand] = c
		if Invalid(b) == "" {
			t.Errorf("command %d accepted", c)
		}
	}
}
