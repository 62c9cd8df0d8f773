import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSecretBox, SecretBoxError } from './secret-box.ts';

const KEY_A = 'a'.repeat(32);
const KEY_B = 'b'.repeat(40);

describe('secret box', () => {
  it('seals with a fresh nonce each time and opens what it sealed', () => {
    const box = createSecretBox(KEY_A);
    const one = box.seal('smtp-password', 'ctx');
    const two = box.seal('smtp-password', 'ctx');
    assert.notEqual(one, two);
    assert.match(one, new RegExp(`^plinthenc:v1:${box.keyId}:[A-Za-z0-9_-]+$`));
    assert.ok(!one.includes('smtp-password'));
    assert.equal(box.open(one, 'ctx'), 'smtp-password');
    assert.equal(box.open(box.seal('', 'ctx'), 'ctx'), '');
    assert.equal(box.open(box.seal('ünïcødé ✓', 'ctx'), 'ctx'), 'ünïcødé ✓');
  });

  it('reads a value stored before encryption as it is, and marks it for re-sealing', () => {
    const box = createSecretBox(KEY_A);
    assert.equal(box.open('plain-old-secret', 'ctx'), 'plain-old-secret');
    assert.equal(box.isCurrent('plain-old-secret'), false);
    assert.equal(box.isCurrent(box.seal('x', 'ctx')), true);
  });

  it('refuses a value sealed for another context, altered, or under a key it was not given', () => {
    const box = createSecretBox(KEY_A);
    const sealed = box.seal('secret', 'settings.smtp.password');
    assert.throws(() => box.open(sealed, 'oauth2.clientSecret'), SecretBoxError);
    // The second-to-last character, changed for sure (the last may carry unused padding bits).
    const flipped = sealed.slice(0, -2) + (sealed.at(-2) === 'A' ? 'B' : 'A') + sealed.slice(-1);
    assert.throws(() => box.open(flipped, 'settings.smtp.password'), SecretBoxError);
    assert.throws(() => box.open('plinthenc:v1:0000:AAAA', 'x'), SecretBoxError);
    assert.throws(() => box.open(`plinthenc:v1:${box.keyId}:AAAA`, 'x'), SecretBoxError);
    assert.throws(() => createSecretBox(KEY_B).open(sealed, 'settings.smtp.password'), /not configured/);
  });

  it('opens values sealed under an older key and seals only with the current one', () => {
    const old = createSecretBox(KEY_A);
    const sealed = old.seal('secret', 'ctx');
    const rotated = createSecretBox(KEY_B, [KEY_A]);
    assert.notEqual(rotated.keyId, old.keyId);
    assert.equal(rotated.open(sealed, 'ctx'), 'secret');
    assert.equal(rotated.isCurrent(sealed), false);
    assert.equal(rotated.isCurrent(rotated.seal('secret', 'ctx')), true);
  });

  it('derives MACs from the key and the purpose', () => {
    const a = createSecretBox(KEY_A);
    assert.equal(a.mac('otp', 'id:123456'), createSecretBox(KEY_A).mac('otp', 'id:123456'));
    assert.notEqual(a.mac('otp', 'id:123456'), createSecretBox(KEY_B).mac('otp', 'id:123456'));
    assert.notEqual(a.mac('otp', 'id:123456'), a.mac('other', 'id:123456'));
    assert.match(a.mac('otp', 'x'), /^[0-9a-f]{64}$/);
  });
});
