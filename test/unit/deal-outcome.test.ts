import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  adviceForQadErrors,
  adviceHash,
  goneOrderState,
  newOrderState,
  orderStatusValue,
  ordersFromRows,
  pendingNote,
  pendingNoteMark,
  rejectedStatus,
  rejectionNote,
  statusText,
} from '../../shared/domain/deal-outcome.ts';

const CODES = { cancelled: ['X', 'CN'], onHold: ['HD'] };

describe("QAD's refusals in a salesperson's words", () => {
  test('each kind of refusal: unknown items (named once each), an unknown customer, a currency, anything else quoted', () => {
    assert.equal(
      adviceForQadErrors(
        [
          { fieldName: 'sod_part', message: 'Line 1: item KIT-9 does not exist', fieldValue: 'KIT-9', code: 'UNKNOWN_ITEM' },
          { fieldName: 'sod_part', message: 'Line 3: item KIT-9 does not exist', fieldValue: 'KIT-9', code: 'UNKNOWN_ITEM' },
          { fieldName: 'sod_part', message: 'Line 2: item BOX-2 does not exist', fieldValue: 'BOX-2', code: 'UNKNOWN_ITEM' },
        ],
        'x',
      ),
      "products KIT-9, BOX-2 are not in QAD's catalogue: ask the order desk",
    );
    assert.equal(
      adviceForQadErrors([{ message: 'Customer Z7 does not exist', fieldValue: 'Z7', code: 'UNKNOWN_CUSTOMER' }], 'x'),
      'the customer Z7 does not exist in QAD: ask the order desk',
    );
    assert.equal(
      adviceForQadErrors([{ message: 'Currency CHF is not allowed', fieldValue: 'CHF', code: 'CURRENCY_NOT_ALLOWED' }], 'x'),
      'QAD does not take CHF from this customer: ask the order desk',
    );
    assert.equal(
      adviceForQadErrors([{ fieldName: 'so_site', message: 'Site 99 is closed', code: 'SITE_CLOSED' }], 'x'),
      'QAD refused the order (so_site: Site 99 is closed): ask the order desk',
    );
    assert.equal(adviceForQadErrors([], 'HTTP 422 (no body)'), 'QAD refused the order (HTTP 422 (no body)): ask the order desk');
  });

  test('the note is HTML with the advice as text; the status field fits a text field; the fingerprint is per reason', () => {
    const note = rejectionNote('product <b>A&B</b> is not in QAD', 30);
    assert.match(note, /product &#60;b&#62;A&#38;B&#60;\/b&#62; is not in QAD/u);
    assert.match(note, /every 30 minutes/u);
    assert.equal(rejectedStatus('x'.repeat(400)).length, 255);
    assert.equal(adviceHash('a reason'), adviceHash('a reason'));
    assert.notEqual(adviceHash('a reason'), adviceHash('another reason'));
  });

  test("a note sent without a known outcome: since its latest mark; an older release's mark or an unreadable time has none", () => {
    const at = (minute: number) => `2026-11-30T10:${String(minute).padStart(2, '0')}:00.000Z`;
    assert.equal(pendingNote(['h1', 'pending:h2'], 'h1'), undefined, 'left, or another reason pending: nothing pending');
    assert.deepEqual(pendingNote(['pending:h1'], 'h1'), {});
    assert.deepEqual(pendingNote(['pending:h1@not a time'], 'h1'), {});
    assert.deepEqual(pendingNote([pendingNoteMark('h1', at(9)), 'pending:h1', pendingNoteMark('h1', at(3))], 'h1'), { since: at(9) });
    assert.deepEqual(pendingNote([pendingNoteMark('h10', at(5))], 'h1'), undefined, 'a fingerprint only by its whole');
  });
});

describe("an order's life, from QAD's order-line rows", () => {
  const row = (nbr: string, line: number, ordered: number | string, shipped: number, header: Record<string, unknown> = {}) => ({
    'so_mstr.so_nbr': nbr,
    'so_mstr.so_po': `PD-t-${nbr}`,
    'so_mstr.so_stat': '',
    'so_mstr.so_conf_date': null,
    'so_mstr.so_inv_nbr': '',
    'so_mstr.so_invoiced': false,
    'sod_det.sod_line': line,
    'sod_det.sod_qty_ord': ordered,
    'sod_det.sod_qty_ship': shipped,
    ...header,
  });

  test('rows group into orders with their quantities summed; a row that does not parse is named, the rest flow', () => {
    const { orders, bad } = ordersFromRows([
      row('S1', 1, 4, 4, { 'so_mstr.so_conf_date': '2026-12-01' }),
      row('S1', 2, 6, 0, { 'so_mstr.so_conf_date': '2026-12-01' }),
      row('S2', 1, 1, 0, { 'so_mstr.so_conf_date': '01.12.2026' }),
      { 'so_mstr.so_po': 'no number' },
      row('S3', 1, 2, 0),
      row('S4', 1, 2, 2),
      row('S4', 2, 'two', 0),
    ]);
    assert.deepEqual([...orders.keys()], ['S1', 'S3'], 'S4 has an unreadable line: not told by half');
    assert.deepEqual([orders.get('S1')?.ordered, orders.get('S1')?.shipped, orders.get('S1')?.confirmedShipDate], [10, 4, '2026-12-01']);
    assert.deepEqual(
      bad.map((b) => b.key),
      ['S2', '_row:3', 'S4'],
    );
    assert.match(bad[0]!.reason, /so_conf_date/u);
  });

  test('the status in words, each state; an untouched order reads as its writer wrote it', () => {
    const open = { ...newOrderState('S9'), ordered: 10 };
    assert.equal(statusText(open, CODES), 'Ordered S9');
    assert.equal(statusText(newOrderState('S9'), CODES), 'Ordered S9');
    assert.equal(statusText({ ...open, shipped: 3 }, CODES), 'Partly shipped (order S9)');
    assert.equal(statusText({ ...open, shipped: 10 }, CODES), 'Shipped (order S9)');
    assert.equal(statusText({ ...open, shipped: 10, invoiceNumber: 'I1', invoicePosted: true }, CODES), 'Invoiced (order S9)');
    assert.equal(statusText({ ...open, statusCode: 'hd' }, CODES), 'On hold in QAD (order S9, status HD)');
    assert.equal(statusText({ ...open, statusCode: 'CN', invoicePosted: true }, CODES), 'Cancelled in QAD (order S9)');
    assert.equal(statusText(goneOrderState('S9'), CODES), 'Cancelled: order S9 was deleted in QAD');
    assert.equal(orderStatusValue({ ...open, shipped: 3 }, 'shipped', CODES), '3 of 10');
    assert.equal(orderStatusValue(open, 'shipped', CODES), null);
    assert.equal(orderStatusValue({ ...open, invoiceNumber: 'I1' }, 'invoice', CODES), 'I1 (not posted yet)');
    assert.equal(orderStatusValue(open, 'invoice', CODES), null);
    assert.equal(orderStatusValue({ ...open, confirmedShipDate: '2026-12-24' }, 'shipDate', CODES), '2026-12-24');
  });
});
