/**
 * npm start: the whole connector on this machine, no AWS account needed.
 * Options: --customers N --contacts-per-customer N --items N --currencies EUR,USD --won-deals N --seed S
 *          --preexisting F --rounds R --change-rate F --plan P --concurrency C --report FILE --verbose --serve [--poll-seconds S]
 *          --chaos [--fault-rate F] --auth token|oauth --token-ttl SECONDS --seats N --mapping FILE --drift --source
 *          --typed-during-sync N --pipedrive-edits --webhooks [--webhook-drop-rate F --webhook-duplicate-rate F
 *          --win-interval-ms MS]
 * By default the functions run from the bundles `cdk synth` writes (cached in .local/synth, rebuilt when the sources,
 * lock file or context change), with the template's settings and IAM enforced; --source runs the TypeScript handlers
 * in this process instead (faster to start, no IAM).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import type { Unsettled } from './local/pipeline.ts';

const argsSchema = z.object({
  customers: z.coerce.number().int().min(1).max(100_000),
  'contacts-per-customer': z.coerce.number().int().min(0).max(20),
  items: z.coerce.number().int().min(0).max(99_999),
  'won-deals': z.coerce.number().int().min(0).max(100_000),
  currencies: z
    .string()
    .transform((s) => s.split(',').map((c) => c.trim().toUpperCase()))
    .pipe(z.array(z.string().regex(/^[A-Z]{3}$/u, 'must be ISO currency codes like EUR,USD')).min(1)),
  seed: z.coerce.number().int(),
  preexisting: z.coerce.number().min(0).max(1),
  rounds: z.coerce.number().int().min(1).max(50),
  'change-rate': z.coerce.number().min(0).max(1),
  plan: z.enum(['lite', 'growth', 'premium', 'ultimate']),
  concurrency: z.coerce.number().int().min(1).max(20),
  report: z.string().optional(),
  verbose: z.boolean(),
  serve: z.boolean(),
  'poll-seconds': z.coerce.number().int().min(1).max(3600),
  chaos: z.boolean(),
  'fault-rate': z.coerce.number().min(0).max(0.5),
  mapping: z.string().optional(),
  drift: z.boolean(),
  auth: z.enum(['token', 'oauth']),
  seats: z.coerce.number().int().min(1).max(1000),
  'token-ttl': z.coerce.number().int().min(5).max(86_400),
  'typed-during-sync': z.coerce.number().int().min(0).max(10_000),
  'pipedrive-edits': z.boolean(),
  source: z.boolean(),
  webhooks: z.boolean(),
  'webhook-drop-rate': z.coerce.number().min(0).max(1),
  'webhook-duplicate-rate': z.coerce.number().min(0).max(1),
  'win-interval-ms': z.coerce.number().int().min(0).max(60_000),
});

function readArgs() {
  const { values } = parseArgs({
    options: {
      customers: { type: 'string', default: '300' },
      'contacts-per-customer': { type: 'string', default: '2' },
      items: { type: 'string', default: '200' },
      'won-deals': { type: 'string', default: '50' },
      currencies: { type: 'string', default: 'EUR,USD' },
      seed: { type: 'string', default: '42' },
      preexisting: { type: 'string', default: '0.2' },
      rounds: { type: 'string', default: '2' },
      'change-rate': { type: 'string', default: '0' },
      plan: { type: 'string', default: 'premium' },
      concurrency: { type: 'string', default: '4' },
      report: { type: 'string' },
      verbose: { type: 'boolean', default: false },
      serve: { type: 'boolean', default: false },
      'poll-seconds': { type: 'string', default: '30' },
      chaos: { type: 'boolean', default: false },
      'fault-rate': { type: 'string', default: '0.05' },
      mapping: { type: 'string' },
      drift: { type: 'boolean', default: false },
      auth: { type: 'string', default: 'token' },
      seats: { type: 'string', default: '3' },
      'token-ttl': { type: 'string', default: '3600' },
      'typed-during-sync': { type: 'string', default: '0' },
      'pipedrive-edits': { type: 'boolean', default: false },
      source: { type: 'boolean', default: false },
      webhooks: { type: 'boolean', default: false },
      'webhook-drop-rate': { type: 'string', default: '0.05' },
      'webhook-duplicate-rate': { type: 'string', default: '0.1' },
      'win-interval-ms': { type: 'string', default: '250' },
    },
  });
  const parsed = argsSchema.safeParse(values);
  if (!parsed.success) {
    console.error(`npm start: ${parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; ')}`);
    process.exit(2);
  }
  return parsed.data;
}

const args = readArgs();
// Set before the handlers load: the functions' logger and metrics read these at import time.
process.env.POWERTOOLS_LOG_LEVEL ??= args.verbose ? 'INFO' : 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { LocalPipeline, demoOrderPo } = await import('./local/pipeline.ts');
const fields = await import('./local/fields.ts');
if (args['pipedrive-edits'] && args.rounds < 2) {
  console.error('npm start: --pipedrive-edits deletes and merges organizations between rounds; use --rounds 2 or more');
  process.exit(2);
}
if (args.drift && args.rounds < 2) {
  console.error('npm start: --drift renames a mapped field between round 1 and round 2; use --rounds 2 or more');
  process.exit(2);
}
let mappingInput: ReturnType<typeof fields.loadMappingFile> | undefined;
try {
  mappingInput = args.mapping ? fields.loadMappingFile(args.mapping) : undefined;
} catch (error) {
  console.error(`npm start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(2);
}
const mapping = fields.effectiveMapping(mappingInput);
const { CHAOS_SEARCH_LAG_MS } = await import('./local/chaos.ts');

/** Prints one line, given in parts so that no source line runs past 140 characters. */
const say = (...parts: string[]) => process.stdout.write(`${parts.join('')}\n`);
/**
 * What a round is doing, on stderr (stdout keeps the report): each step at once, and counts of a long write at most
 * every 2 s (redrawn in place on a terminal).
 */
let shownAt = 0;
const progress = (line: string, force = false) => {
  if (process.stderr.isTTY) process.stderr.write(`\r${line}\x1b[K`);
  else if (line && (force || Date.now() - shownAt >= 2000)) {
    shownAt = Date.now();
    process.stderr.write(`${line}\n`);
  }
};

say(
  `Starting the local connector: ${args.customers} QAD customers with ${args['contacts-per-customer']} contacts each, `,
  `${args.items} items priced in ${args.currencies.join(', ')}; `,
  `${Math.round(args.preexisting * 100)}% already in Pipedrive by hand; plan ${args.plan}.`,
);
let artifacts: { cdkOut: string; stackName: string } | undefined;
if (!args.source) {
  const { synthesized } = await import('./local/artifacts/synth.ts');
  const { STACK_NAME } = await import('../infra/names.ts');
  // The stack as deployed with -c webhooks=true when the run pushes won deals: the endpoint's function is in it.
  const synth = await synthesized(process.cwd(), args.webhooks ? { webhooks: 'true' } : {}, () =>
    say('  Synthesizing the stack (cdk synth); the next start reuses it...'),
  );
  say(`  Functions from the synthesized bundles (${synth.cached ? 'cached ' : ''}.local/synth/${synth.key}), the template's IAM enforced.`);
  artifacts = { cdkOut: synth.dir, stackName: STACK_NAME };
} else say('  Functions from the TypeScript sources in this process (--source): no bundles, no IAM.');
const pipeline = await LocalPipeline.start({
  ...(artifacts && { artifacts }),
  customers: args.customers,
  contactsPerCustomer: args['contacts-per-customer'],
  items: args.items,
  currencies: args.currencies,
  seed: args.seed,
  preexisting: args.preexisting,
  plan: args.plan,
  writerConcurrency: args.concurrency,
  wonDeals: args['won-deals'],
  ...(mappingInput && { fields: mappingInput }),
  ...(args.chaos && { chaos: args['fault-rate'] }),
  auth: args.auth,
  tokenTtlSeconds: args['token-ttl'],
  seats: args.seats,
  typedDuringSync: args['typed-during-sync'],
  ...(args.webhooks && {
    webhooks: {
      dropRate: args['webhook-drop-rate'],
      duplicateRate: args['webhook-duplicate-rate'],
      maxDelayMs: 500,
      winIntervalMs: args['win-interval-ms'],
    },
  }),
});
if (args.webhooks)
  say(
    `  Webhooks: the stack's HTTP API and its function run here; the demo tenant's webhook is installed. Pipedrive drops `,
    `${Math.round(args['webhook-drop-rate'] * 100)}% of deliveries, doubles ${Math.round(args['webhook-duplicate-rate'] * 100)}%, `,
    `delays each up to 0.5 s; a deal is won every ${args['win-interval-ms']} ms; the deal poll runs after the wins.`,
  );
if (args.chaos)
  say(
    `  Chaos: faults injected into ${Math.round(args['fault-rate'] * 100)}% of calls to QAD and Pipedrive, `,
    'search lags 5 s behind creates, some batches delivered twice at once.',
  );
say(`  QAD simulator       ${pipeline.qad.tenant(pipeline.qadBasePath).baseUrl}`);
say(`  Pipedrive simulator ${pipeline.pipedrive.url}`);
say(`  DynamoDB (dynalite) ${pipeline.aws.env.AWS_ENDPOINT_URL_DYNAMODB}   SQS (local-aws-sqs) ${pipeline.aws.env.AWS_ENDPOINT_URL_SQS}`);
say(
  `  Tenant "demo" registered; credentials encrypted `,
  artifacts ? '(local KMS, AES-256-GCM bound to tenant and system).' : '(local AES-256-GCM bound to tenant and system).',
);
if (args.auth === 'oauth') say(`  Pipedrive OAuth: authorised through "connector authorize"; access tokens live ${args['token-ttl']} s.`);

const rounds = [];
const edits: Array<{ beforeRound: number; deleted: number; merged: number }> = [];
try {
  for (let r = 1; r <= args.rounds; r++) {
    if (r === 2 && args.drift) say(`\n${fields.applyDrift(pipeline.pipedrive, pipeline.qad.tenant(pipeline.qadBasePath), mapping)}`);
    if (r === 3 && args.drift) say(`\n${fields.fixDrift(pipeline.pipedrive, mapping)}`);
    if (r > 1 && args['pipedrive-edits']) {
      const edit = await pipeline.editPipedrive(Math.max(1, Math.round(args.customers * 0.02)));
      edits.push({ beforeRound: r, ...edit });
      say(
        `\nIn Pipedrive, people deleted ${edit.deleted} mapped organizations and merged ${edit.merged} into hand-made ones; `,
        'a night passed, so this round reads everything.',
      );
    }
    if (r > 1 && args['change-rate'] > 0) say(`\nBetween polls, ${pipeline.changeQad(args['change-rate'])} QAD customers changed.`);
    say(`\nRound ${r}: schedule fires -> poll customers -> queue -> Pipedrive writers`);
    const round = await pipeline.runRound({
      onProgress: (done) => progress(`  written ${done} records...`),
      onStep: (step) => progress(`  round ${r}: ${step}...`, true),
    });
    progress('');
    rounds.push(round);
    for (const [name, o] of Object.entries(round.entities)) {
      const extra = o.rejected !== undefined ? `, ${o.rejected} rejected, ${o.conflict ?? 0} conflicts` : '';
      say(
        `  ${name.padEnd(13)} ${o.created} created, ${o.updated} updated, ${o.unchanged} unchanged, `,
        `${o.deferred} deferred, ${o.failed} failed${extra}`,
      );
      for (const [reason, n] of Object.entries(o.reasons ?? {})) say(`                  ${n} x ${reason}`);
    }
    if (round.ordersChangedInQad > 0)
      say(`  order desk: ${round.ordersChangedInQad} QAD orders moved on (confirmed, shipped, invoiced, cancelled)`);
    say(
      `  Pipedrive: ${round.pipedrive.calls} calls, ${round.pipedrive.tokens} tokens, ${round.pipedrive.status429} x 429   `,
      `QAD: ${round.qad.calls} calls`,
    );
    if (r === 1 && pipeline.typedDuringSync > 0)
      say(`  typed into Pipedrive by hand while the round ran: ${pipeline.typedDuringSync} organizations, persons and products`);
    const pushed = r === 1 ? pipeline.winReport : undefined;
    if (pushed?.deliveries)
      say(
        `  webhooks: ${pushed.deals} deals won; ordered ${pushed.orderedByWebhook} by webhook, ${pushed.orderedByPoll} by the poll `,
        `(deliveries lost), ${pushed.notOrdered} not mappable; pushed win to order p50 ${(pushed.latencyMs.p50 / 1000).toFixed(2)} s, `,
        `p95 ${(pushed.latencyMs.p95 / 1000).toFixed(2)} s, max ${(pushed.latencyMs.max / 1000).toFixed(2)} s; deliveries `,
        `${pushed.deliveries.posts} posted (${pushed.deliveries.duplicated} doubled, ${pushed.deliveries.dropped} dropped, `,
        `${pushed.deliveries.retried} retried), endpoint ${JSON.stringify(pushed.endpoint?.byStatus ?? {})} `,
        `answered in p95 ${pushed.endpoint?.answerMs.p95 ?? 0} ms`,
      );
    const byCause = round.deadLettersByCause;
    say(
      `  dead letters: ${round.deadLetters} (permanent ${byCause.permanent}, retry budget ${byCause.retryBudget}, `,
      `maxReceiveCount ${byCause.maxReceiveCount})   queue drained: ${round.drained ? 'yes' : 'NO'}   `,
      `settled: ${round.settled ? 'yes' : 'NO'}   ${(round.elapsedMs / 1000).toFixed(1)} s`,
    );
    if (!round.settled) say(`  not settled: ${describeUnsettled(round.unsettled)}`);
  }
  const state = await pipeline.state();
  say(`\nIn Pipedrive now:`);
  say(
    `  organizations ${state.pipedrive.organizations} for ${state.qad.customers} QAD customers; `,
    `duplicates ${state.duplicates.organizations}, missing ${state.missing.organizations}`,
  );
  say(
    `  persons       ${state.pipedrive.persons} for ${state.qad.qualifyingContacts} qualifying contacts; `,
    `duplicates ${state.duplicates.persons}, missing ${state.missing.persons}, in the wrong organization ${state.mismatched.persons}`,
  );
  say(
    `  products      ${state.pipedrive.products} for ${state.qad.items} items; duplicates ${state.duplicates.products}, `,
    `missing ${state.missing.products}, prices differing from QAD ${state.mismatched.products}`,
  );
  say(`In QAD now:`);
  say(
    `  sales orders  ${state.qad.salesOrders} for ${state.pipedrive.wonDeals} won deals; duplicates ${state.duplicates.salesOrders}, `,
    `unexplained ${state.missing.salesOrders}, differing from their deal ${state.mismatched.salesOrders}`,
  );
  say(`On the deals:`);
  say(
    `  notes         ${state.deals.notes} on ${state.deals.rejected} rejected deals; a reason said twice ${state.duplicates.notes}, `,
    `rejected deals without a note ${state.missing.notes}`,
  );
  say(
    `  order status  ${Object.entries(state.deals.statusByKind)
      .map(([kind, n]) => `${kind} ${n}`)
      .join(', ')}; differing from QAD ${state.mismatched.orderStatuses}`,
  );
  const fieldValues = fields.checkMappedValues(
    pipeline.pipedrive,
    pipeline.qad.tenant(pipeline.qadBasePath),
    mapping,
    { organization: 'QAD Customer Code', person: 'QAD Contact ID' },
    demoOrderPo,
  );
  say(`Mapped values: ${fieldValues.map((v) => `${v.entity} "${v.name}" ${v.matching}/${v.checked}`).join(', ') || 'none'}`);
  const keysBothWays = fields.writtenBackKeys(pipeline.pipedrive, pipeline.qad.tenant(pipeline.qadBasePath), mapping, 'QAD Customer Code');
  if (keysBothWays.enabled)
    say(
      `Keys both ways: ${keysBothWays.holdingTheirOrganizationId} of ${keysBothWays.customers} QAD customers `,
      `hold their Pipedrive organization id in ${mapping.writeBack.customerField}`,
    );
  const fieldReport = fields.fieldsReport(
    'demo',
    pipeline.pipedrive,
    mapping,
    await pipeline.auditLog().byTenant('demo', '2000-01-01T00:00:00Z', new Date(Date.now() + 1000).toISOString()),
  );
  say(
    'Mapped fields: ',
    fieldReport.mapped.map((f) => `${f.entity} "${f.name}" -> ${f.code ? `${f.code.slice(0, 8)}…` : 'MISSING'}`).join(', ') || 'none',
  );
  for (const d of fieldReport.drift)
    say(
      `  DRIFT ${d.entity} "${d.field}" at ${d.at}: ${d.problem}${d.recordsHeld !== null ? `; ${d.recordsHeld} records held` : ''}; `,
      `${d.entity} records written while held: ${d.writtenSince}`,
    );
  // The round after which nothing was pending, held or retrying any more (null: not within the run).
  const lastUnsettled = rounds.findLastIndex((r) => !r.settled);
  const converged = lastUnsettled + 1 < rounds.length ? lastUnsettled + 2 : null;
  say('Converged: ', converged === null ? 'NO (still pending, held or retrying after the last round)' : `after round ${converged}`);
  const lost = Object.values(state.missing).reduce((a, b) => a + b, 0);
  const duplicates = Object.values(state.duplicates).reduce((a, b) => a + b, 0);
  const faults = pipeline.chaos?.injected;
  if (faults) {
    say(
      `\nFaults injected: ${Object.entries(faults)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ')}; polls re-run after a fault: ${pipeline.pollRetries}`,
    );
    say(`Lost records: ${lost}; duplicates: ${duplicates}; dead letters: ${await pipeline.deadLetterCount()}`);
  }
  const iam = pipeline.iam();
  if (iam) {
    say(`IAM: ${iam.checked} AWS calls checked against the template's role policies, ${iam.denied} denied`);
    for (const [fn, f] of Object.entries(iam.byFunction)) for (const call of f.deniedCalls) say(`  DENIED ${fn}: ${call}`);
  }
  const auth = await pipeline.authReport();
  if (args.auth === 'oauth')
    say(`Pipedrive OAuth: ${auth.refreshes} token refreshes; parked tenants: ${auth.parkedTenants.join(', ') || 'none'}`);
  if (args.report) {
    writeFileSync(
      args.report,
      `${JSON.stringify(
        {
          options: args,
          rounds,
          state,
          lost,
          duplicates,
          deadLettersByCause: rounds.at(-1)?.deadLettersByCause,
          converged,
          auth,
          typedDuringSync: pipeline.typedDuringSync,
          pipedriveEdits: edits,
          wins: pipeline.winReport ?? null,
          iam: iam ?? null,
          fields: { ...fieldReport, values: fieldValues, keysBothWays },
          ...(faults && { faults: { injected: faults, searchLagMs: CHAOS_SEARCH_LAG_MS, pollRetries: pipeline.pollRetries } }),
        },
        null,
        2,
      )}\n`,
    );
    say(`Report written to ${args.report}`);
  }
  const problems = [...Object.values(state.duplicates), ...Object.values(state.missing), ...Object.values(state.mismatched)].reduce(
    (a, b) => a + b,
    0,
  );
  // A call the template's IAM denies would fail in AWS too: the local run does not pass it.
  process.exitCode = problems === 0 && (iam?.denied ?? 0) === 0 ? 0 : 1;
  if (args.serve) {
    // As deployed: schedules and writers keep running, so the operator's CLI and console take effect, until Ctrl-C or SIGTERM.
    mkdirSync('.local', { recursive: true });
    writeFileSync('.local/connector.json', JSON.stringify(pipeline.connectionFile(), null, 2), { mode: 0o600 });
    say(`\nServing: polls every ${args['poll-seconds']} s, writers on their queues. In another terminal:`);
    say('  npm run connector -- --local .local/connector.json status   (or console, replay, redrive, tenant add ...)');
    say(`  QAD base URL ${pipeline.qad.tenant(pipeline.qadBasePath).baseUrl}   Pipedrive ${pipeline.pipedrive.url}   (Ctrl-C stops)`);
    const stop = new AbortController();
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop.abort());
    await pipeline.serve({
      pollEveryMs: args['poll-seconds'] * 1000,
      signal: stop.signal,
      onPollError: (poll, error) => say(`  ${poll} poll failed, tried again at the next tick: ${(error as Error).message}`),
    });
    say('Stopped.');
    // The run's findings were printed above; a server stopped on request exits cleanly.
    process.exitCode = 0;
  }
} finally {
  await pipeline.close();
}

/** What kept a round from settling, in one line: queued messages, holds by cause, pending creates. */
function describeUnsettled(left: Unsettled): string {
  const parts = [
    ...(left.queued > 0 ? [`${left.queued} on the queues`] : []),
    ...Object.entries(left.held).map(([cause, n]) => `${n} held (${cause})`),
    ...(left.pendingCreates > 0 ? [`${left.pendingCreates} creates pending (${left.pendingKeys.join(', ')})`] : []),
  ];
  return parts.join(', ');
}
