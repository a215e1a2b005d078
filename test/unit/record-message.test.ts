import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newRecordMessage, parseRecordMessage, RECORD_MESSAGE_VERSION } from '../../shared/flows/record-message.ts';

const fields = { tenantId: 'globex', entity: 'person', key: 'P-9', hash: 'h9', record: { name: 'Zoë' }, pollId: 'p-1' };

test('writers send the current version, stamped with when it was queued', () => {
  const message = newRecordMessage(fields, Date.parse('2027-03-04T05:06:07.000Z'));
  assert.deepEqual(message, { v: RECORD_MESSAGE_VERSION, ...fields, queuedAt: '2027-03-04T05:06:07.000Z' });
  assert.deepEqual(parseRecordMessage(JSON.stringify(message)), { ok: true, value: message });
});

test('a message of the previous version (0.1.0) reads as the current one', () => {
  assert.deepEqual(parseRecordMessage(JSON.stringify({ v: 1, ...fields })), { ok: true, value: { v: 2, ...fields } });
  // Still read after it went round once upgraded (held, then released).
  assert.deepEqual(parseRecordMessage(JSON.stringify({ v: 2, ...fields })), { ok: true, value: { v: 2, ...fields } });
});

test('a newer version, a missing one and a broken one are refused with their reason', () => {
  const reason = (body: unknown) => {
    const parsed = parseRecordMessage(typeof body === 'string' ? body : JSON.stringify(body));
    return parsed.ok ? 'accepted' : parsed.reason;
  };
  assert.match(reason({ ...fields, v: 4 }), /^message version 4 was written by a newer release; this one reads versions 1 and 2/u);
  assert.match(reason(fields), /^message is not a record message: v /u);
  assert.match(reason({ ...fields, v: 0 }), /^message is not a record message: v /u);
  assert.match(reason({ ...fields, v: 2, queuedAt: 'yesterday' }), /queuedAt/u);
  assert.match(reason({ v: 1, ...fields, key: '' }), /key/u);
  assert.equal(reason('{"v":2'), 'message body is not JSON');
});
