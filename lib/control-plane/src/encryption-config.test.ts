// The EncryptionConfiguration: Secrets encrypted with secretbox under the first key, every key
// readable, plain text still readable, and key names that follow the key, not its position.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { parse } from 'yaml';
import { encryptionConfig } from './encryption-config.js';

interface Config {
  kind: string;
  resources: {
    resources: string[];
    providers: { secretbox?: { keys: { name: string; secret: string }[] }; identity?: object }[];
  }[];
}

test('Secrets are encrypted with the first key, every key decrypts, identity reads the rest', (t) => {
  const [first, second] = [randomBytes(32), randomBytes(32)];
  const config = parse(encryptionConfig([first, second])) as Config;
  t.is(config.kind, 'EncryptionConfiguration');
  const [secrets] = config.resources;
  t.deepEqual(secrets?.resources, ['secrets']);
  const keys = secrets?.providers[0]?.secretbox?.keys ?? [];
  t.deepEqual(
    keys.map((key) => key.secret),
    [first.toString('base64'), second.toString('base64')],
  );
  t.deepEqual(secrets?.providers[1], { identity: {} });

  // Rotated (a new key first), the old key keeps its name: what it encrypted stays readable.
  const rotated = parse(encryptionConfig([randomBytes(32), first])) as Config;
  t.is(rotated.resources[0]?.providers[0]?.secretbox?.keys[1]?.name, keys[0]?.name);
});

test('no key, or a key of the wrong length, is refused', (t) => {
  t.throws(() => encryptionConfig([]), { instanceOf: RangeError });
  t.throws(() => encryptionConfig([randomBytes(16)]), { instanceOf: RangeError });
});
