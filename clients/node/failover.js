'use strict';
// Load for TestFailover (failover_test.go): several clients of the
// official tigerbeetle-node package create transfers against a cluster
// whose primary the test kills and restarts. The client retries every
// request until it is answered, so every call must resolve with every
// event created; once the test writes "stop" on stdin, the load drains
// and a fresh client looks up every acknowledged transfer and every
// account: each transfer present with its fields, each balance the sum
// of the acknowledged transfers (a lost transfer is missing, one applied
// twice doubles a balance). Prints "acked N" as it goes and "verified"
// at the end; any other outcome exits nonzero.
const assert = require('assert');
const {
  createClient, CreateAccountStatus, CreateTransferStatus,
} = require('tigerbeetle-node');

const ADDRESSES = process.env.TB_ADDRESSES.split(',');
const CLIENTS = Number(process.env.CLIENTS || 4);
const ACCOUNTS = 8;
const BATCH = Number(process.env.BATCH || 8); // transfers per request
const LOOKUP_CHUNK = 1000; // ids per lookup: far under the batch limit
const LEDGER = 700;
const CODE = 10;
const PROGRESS_MS = Number(process.env.PROGRESS_MS || 250);

const newClient = () => createClient({ cluster_id: 0n, replica_addresses: ADDRESSES });
const accountID = (i) => 0xACC0000n + BigInt(i);
const zeroAccount = {
  debits_pending: 0n, debits_posted: 0n, credits_pending: 0n, credits_posted: 0n,
  user_data_128: 0n, user_data_64: 0n, user_data_32: 0, reserved: 0,
  ledger: LEDGER, code: CODE, flags: 0, timestamp: 0n,
};

let stopping = false;
process.stdin.on('data', (d) => { if (String(d).includes('stop')) stopping = true; });
process.stdin.on('end', () => { stopping = true; });

const acked = new Map(); // id -> transfer
let progress = null;

async function worker(w, client) {
  let seq = 0n;
  while (!stopping) {
    const batch = [];
    for (let k = 0; k < BATCH; k++) {
      const debit = Math.floor(Math.random() * ACCOUNTS);
      const credit = (debit + 1 + Math.floor(Math.random() * (ACCOUNTS - 1))) % ACCOUNTS;
      seq++;
      batch.push({
        id: (BigInt(w + 1) << 64n) | seq,
        debit_account_id: accountID(debit), credit_account_id: accountID(credit),
        amount: BigInt(1 + Math.floor(Math.random() * 100)), pending_id: 0n,
        user_data_128: 0n, user_data_64: BigInt(w), user_data_32: 0, timeout: 0,
        ledger: LEDGER, code: CODE, flags: 0, timestamp: 0n,
      });
    }
    const results = await client.createTransfers(batch);
    assert.strictEqual(results.length, batch.length);
    results.forEach((r, i) => {
      assert.strictEqual(r.status, CreateTransferStatus.created,
        `transfer ${batch[i].id}: status ${r.status}, want created`);
      assert.ok(r.timestamp > 0n);
    });
    for (const t of batch) acked.set(t.id, t);
  }
}

async function verify() {
  const client = newClient();
  try {
    const ids = [...acked.keys()];
    for (let i = 0; i < ids.length; i += LOOKUP_CHUNK) {
      const chunk = ids.slice(i, i + LOOKUP_CHUNK);
      const found = await client.lookupTransfers(chunk);
      assert.strictEqual(found.length, chunk.length, `lookup of ${chunk.length} acknowledged transfers found ${found.length}`);
      found.forEach((t, j) => {
        const want = acked.get(chunk[j]);
        assert.strictEqual(t.id, want.id);
        for (const f of ['debit_account_id', 'credit_account_id', 'amount', 'user_data_64', 'ledger', 'code']) {
          assert.strictEqual(t[f], want[f], `transfer ${t.id}: ${f}`);
        }
      });
    }
    const debits = new Map(); const credits = new Map();
    for (const t of acked.values()) {
      debits.set(t.debit_account_id, (debits.get(t.debit_account_id) || 0n) + t.amount);
      credits.set(t.credit_account_id, (credits.get(t.credit_account_id) || 0n) + t.amount);
    }
    const accounts = await client.lookupAccounts([...Array(ACCOUNTS).keys()].map(accountID));
    assert.strictEqual(accounts.length, ACCOUNTS);
    for (const a of accounts) {
      assert.strictEqual(a.debits_posted, debits.get(a.id) || 0n, `account ${a.id}: debits_posted`);
      assert.strictEqual(a.credits_posted, credits.get(a.id) || 0n, `account ${a.id}: credits_posted`);
      assert.strictEqual(a.debits_pending, 0n);
      assert.strictEqual(a.credits_pending, 0n);
    }
  } finally {
    client.destroy();
  }
}

async function main() {
  const setup = newClient();
  const accounts = [...Array(ACCOUNTS).keys()].map((i) => ({ ...zeroAccount, id: accountID(i) }));
  const results = await setup.createAccounts(accounts);
  results.forEach((r) => assert.strictEqual(r.status, CreateAccountStatus.created));
  setup.destroy();
  console.log('accounts created');

  progress = setInterval(() => console.log(`acked ${acked.size}`), PROGRESS_MS);
  const clients = [...Array(CLIENTS).keys()].map(newClient);
  await Promise.all(clients.map((c, w) => worker(w, c)));
  clearInterval(progress);
  console.log(`acked ${acked.size}`);
  for (const c of clients) c.destroy();

  await verify();
  console.log(`verified ${acked.size} transfers on ${ACCOUNTS} accounts`);
}

main().then(() => process.exit(0), (err) => {
  if (progress) clearInterval(progress);
  console.log(`FAILED: ${err.stack || err}`);
  process.exit(1);
});
