import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalJson, contentHash } from '../../shared/domain/content-hash.ts';

describe('canonicalJson', () => {
  test('object keys are sorted at every depth', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: 2, c: 3 } }), '{"a":{"c":3,"d":2},"b":1}');
  });

  test('array order is kept', () => {
    assert.equal(canonicalJson([3, 1, 2]), '[3,1,2]');
    assert.equal(canonicalJson({ list: [{ z: 1, y: 2 }] }), '{"list":[{"y":2,"z":1}]}');
  });

  test('null and primitives are plain JSON', () => {
    assert.equal(canonicalJson(null), 'null');
    assert.equal(canonicalJson('x'), '"x"');
    assert.equal(canonicalJson({ a: null }), '{"a":null}');
  });
});

describe('contentHash', () => {
  test('independent of key order', () => {
    assert.equal(contentHash({ a: 1, b: 2, c: 3 }), contentHash({ c: 3, a: 1, b: 2 }));
  });

  test('independent of key order in nested objects and objects inside arrays', () => {
    const one = { name: 'Acme', address: { city: 'X', zip: '1', geo: { lat: 1, lng: 2 } }, tags: [{ k: 'a', v: 'b' }] };
    const two = { tags: [{ v: 'b', k: 'a' }], address: { geo: { lng: 2, lat: 1 }, zip: '1', city: 'X' }, name: 'Acme' };
    assert.equal(contentHash(one), contentHash(two));
  });

  test('different content hashes differently', () => {
    assert.notEqual(contentHash({ a: 1 }), contentHash({ a: 2 }));
    assert.notEqual(contentHash({ a: { b: 1 } }), contentHash({ a: { b: '1' } }));
    assert.notEqual(contentHash({ a: 1 }), contentHash({ a: 1, b: null }));
  });

  test('array order matters', () => {
    assert.notEqual(contentHash([1, 2]), contentHash([2, 1]));
  });

  test('a stable 32-character base64url fingerprint', () => {
    const h = contentHash({ x: 'y' });
    assert.match(h, /^[A-Za-z0-9_-]{32}$/u);
    assert.equal(h, contentHash({ x: 'y' }));
  });
});
