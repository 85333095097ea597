// release.json: what the image builder writes is what the agent reads; a malformed file is
// refused with its name, never read as an empty release.
import test from 'ava';
import { BundleError } from './errors.js';
import { encodeReleaseInfo, parseReleaseInfo, type ReleaseInfo } from './release-info.js';

const release: ReleaseInfo = {
  version: 'v0.4.0',
  securityEpoch: 2,
  flavour: 'process',
  architecture: 'x86_64',
  healthCheck: 'ok',
  kubeApiserverArgs: ['--feature-gates=Example=true'],
};

test('round trip, with the kube-apiserver flags a release adds', (t) => {
  const text = new TextDecoder().decode(encodeReleaseInfo(release));
  t.deepEqual(parseReleaseInfo(text, 'release.json'), release);
});

test('a release without flags or epoch is written as before: no kubeApiserverArgs, no securityEpoch', (t) => {
  const text = new TextDecoder().decode(
    encodeReleaseInfo({ ...release, securityEpoch: 0, kubeApiserverArgs: [] }),
  );
  t.is(text, '{"version":"v0.4.0","flavour":"process","architecture":"x86_64","healthCheck":"ok"}');
  t.deepEqual(parseReleaseInfo(text, 'release.json').kubeApiserverArgs, []);
});

test('malformed release.json is refused with the file named', (t) => {
  for (const [text, message] of [
    ['{', 'rootfs/release.json is not valid JSON'],
    ['{"flavour":"process"}', 'rootfs/release.json has no version'],
    [
      '{"version":"v1","kubeApiserverArgs":"--x"}',
      'rootfs/release.json: kubeApiserverArgs must be a list of strings',
    ],
    [
      '{"version":"v1","securityEpoch":-1}',
      'rootfs/release.json: securityEpoch must be a non-negative integer',
    ],
  ] as const) {
    const error = t.throws(() => parseReleaseInfo(text, 'rootfs/release.json'), {
      instanceOf: BundleError,
      message,
    });
    t.is(error.code, 'BUNDLE_MALFORMED');
  }
});
