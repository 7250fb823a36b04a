package lsm_test

import (
	"viewstamp/replica/storage/grid"
	"viewstamp/replica/storage/lsm"
)

// The forest runs over the data file's grid: this fails to compile if the
// two drift apart.
var _ lsm.Grid = (*grid.Grid)(nil)
