// Package workload will hold the ledger workload generator and its auditor
// (the reference model that checks every reply). Until the ledger lands, the
// simulator's clients send echo requests built in sim/.
package workload
