// Package workload holds the ledger workload generator and its auditor
// (the reference model that checks every reply).
package workload
