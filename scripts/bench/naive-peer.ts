/**
 * The naive peer of the bench (issue 19, point 8): what most integrations do, beside the connector on the same
 * Pipedrive simulator (same plan, latency model and hand-typed records) and the same generated dataset. For each
 * record, one at a time: search Pipedrive for it (an organization by name, a person by email, a product by code,
 * exact match), PATCH the first hit or POST a new one; after a 429, sleep for the `x-ratelimit-reset` it named and
 * try again. No connector code: plain HTTP to the simulator. It reads its rows from the generator, not from QAD,
 * which only flatters its time. Runs `--subset` customers of the dataset (their contacts, as large a share of the
 * items spread over all of them) so that it stays affordable at realistic latency. Run by scripts/bench.ts.
 */
import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import * as z from 'zod';
import { generateContacts, generateCustomers, generateItems, generatePrices } from '../simulators/dataset.ts';
import { LATENCY_PRESETS } from '../simulators/latency.ts';
import { startPipedriveSim } from '../simulators/pipedrive/index.ts';
import { seedTypedByHand } from '../local/pipeline.ts';
import { normaliseName } from '../../shared/domain/text.ts';
import { keyCounts, pipedriveDoubles } from './peers.ts';

const args = z
  .object({
    customers: z.coerce.number().int().min(1),
    items: z.coerce.number().int().min(0),
    subset: z.coerce.number().int().min(1),
    plan: z.enum(['lite', 'growth', 'premium', 'ultimate']),
    seats: z.coerce.number().int().min(1),
    seed: z.coerce.number().int(),
    latency: z.enum(['realistic', 'off']),
    out: z.string().min(1),
  })
  .parse(
    parseArgs({
      options: Object.fromEntries(
        ['customers', 'items', 'subset', 'plan', 'seats', 'seed', 'latency', 'out'].map((o) => [o, { type: 'string' as const }]),
      ),
    }).values,
  );

const API_TOKEN = 'naive-peer-api-token-0123456789';
const today = new Date().toISOString().slice(0, 10);
// The dataset exactly as the connector's case generates it (scripts/local/pipeline.ts), then its first `subset` customers.
const customers = generateCustomers({ count: args.customers, seed: args.seed, today });
const contacts = generateContacts(customers, 2, args.seed);
const items = generateItems({ count: args.items, seed: args.seed, today });
const prices = generatePrices(items, ['EUR', 'USD'], args.seed);
const sim = await startPipedriveSim({
  apiToken: API_TOKEN,
  plan: args.plan,
  seats: args.seats,
  ...(args.latency === 'realistic' && { latency: LATENCY_PRESETS.realistic.pipedrive }),
  currencies: [...new Set(['EUR', 'USD', ...customers.map((c) => c['cm_mstr.cm_curr'])])].sort(),
});
seedTypedByHand(sim, { customers, contacts, items }, 0.2, args.seed);
sim.resetStats();

const mine = customers.slice(0, args.subset);
const codes = new Set(mine.map((c) => c['cm_mstr.cm_addr']));
const myContacts = contacts.filter(
  (c) => codes.has(c['ct_mstr.ct_cust']) && c['ct_mstr.ct_active'] && (c['ct_mstr.ct_email'] || c['ct_mstr.ct_phone']),
);
const step = Math.max(1, Math.round(args.customers / args.subset));
const myItems = items.filter((_, i) => i % step === 0);

let status429 = 0;
let failed = 0;
const errors = new Map<string, number>();
const searchHit = z.object({ data: z.object({ items: z.array(z.object({ item: z.object({ id: z.number() }) })) }) });
const written = z.object({ data: z.object({ id: z.number() }) });

/** One call; a 429 sleeps for the reset Pipedrive named and tries again, as the integrations do. */
async function call(method: 'GET' | 'POST' | 'PATCH', path: string, body?: unknown): Promise<unknown> {
  for (;;) {
    const res = await fetch(`${sim.url}/api/v2${path}`, {
      method,
      headers: { 'x-api-token': API_TOKEN, accept: 'application/json', ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const json: unknown = await res.json();
    if (res.status === 429) {
      status429++;
      if (res.headers.get('x-daily-ratelimit-remaining') === '0') throw new Error('the daily token budget is spent');
      await sleep(Math.max(1, Number(res.headers.get('x-ratelimit-reset') ?? '1')) * 1000);
      continue;
    }
    if (res.status >= 300) throw new Error(`${method} ${path.replace(/\?.*$/u, '')} answered ${res.status}`);
    return json;
  }
}

/** Search, then PATCH the first hit or POST: the record's id, or undefined when Pipedrive refused it. */
async function upsert(collection: string, search: { term: string; field: string }, body: Record<string, unknown>) {
  try {
    const query = new URLSearchParams({ term: search.term, fields: search.field, exact_match: 'true', limit: '1' });
    const hit = searchHit.parse(await call('GET', `/${collection}/search?${query}`)).data.items[0];
    const res = hit ? await call('PATCH', `/${collection}/${hit.item.id}`, body) : await call('POST', `/${collection}`, body);
    return written.parse(res).data.id;
  } catch (error) {
    failed++;
    const why = error instanceof Error ? error.message : String(error);
    errors.set(why, (errors.get(why) ?? 0) + 1);
    return undefined;
  }
}

const started = Date.now();
const orgIds = new Map<string, number>();
for (const c of mine) {
  const address = [c['ad_mstr.ad_line1'], `${c['ad_mstr.ad_zip']} ${c['ad_mstr.ad_city']}`, c['ad_mstr.ad_country']].join(', ');
  const id = await upsert(
    'organizations',
    { term: c['ad_mstr.ad_name'], field: 'name' },
    { name: c['ad_mstr.ad_name'], address: { value: address } },
  );
  if (id !== undefined) orgIds.set(c['cm_mstr.cm_addr'], id);
}
for (const item of myItems) {
  const code = item['pt_mstr.pt_part'];
  const list = prices.filter((p) => p['pi_mstr.pi_list'] === 'STD' && p['pi_mstr.pi_part_code'] === code);
  await upsert(
    'products',
    { term: code, field: 'code' },
    {
      name: item['pt_mstr.pt_desc1'],
      code,
      prices: list.map((p) => ({ currency: p['pi_mstr.pi_curr'], price: p['pi_mstr.pi_list_price'] })),
    },
  );
}
for (const c of myContacts) {
  const email = c['ct_mstr.ct_email'];
  const phone = c['ct_mstr.ct_phone'];
  await upsert('persons', email ? { term: email, field: 'email' } : { term: c['ct_mstr.ct_name'], field: 'name' }, {
    name: c['ct_mstr.ct_name'],
    org_id: orgIds.get(c['ct_mstr.ct_cust']) ?? null,
    ...(email && { emails: [{ value: email, primary: true, label: 'work' }] }),
    ...(phone && { phones: [{ value: phone, primary: true, label: 'work' }] }),
  });
}
const seconds = (Date.now() - started) / 1000;

const stats = sim.stats();
const doubles = pipedriveDoubles(
  { organizations: sim.organizations(), persons: sim.persons(), products: sim.products() },
  {
    names: keyCounts(mine.map((c) => normaliseName(c['ad_mstr.ad_name']))),
    emails: keyCounts(myContacts.flatMap((c) => (c['ct_mstr.ct_email'] ? [c['ct_mstr.ct_email'].toLowerCase()] : []))),
    codes: keyCounts(myItems.map((i) => i['pt_mstr.pt_part'])),
  },
);
const records = { organizations: mine.length, persons: myContacts.length, products: myItems.length };
writeFileSync(
  args.out,
  JSON.stringify({
    records: { ...records, total: records.organizations + records.persons + records.products },
    tokens: stats.tokens,
    calls: stats.calls,
    status429,
    seconds,
    doubled: doubles,
    failed,
    errors: Object.fromEntries(errors),
    byEndpoint: stats.byEndpoint,
  }),
);
await sim.close();
