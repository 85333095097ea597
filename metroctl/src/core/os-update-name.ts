// Default OSUpdate names: `os-<version>-<5 random characters>`, a valid Kubernetes object name
// (DNS subdomain) that also fits a label value (63 characters), whatever the version string.
import { randomInt } from 'node:crypto';

// The alphabet of Kubernetes' generateName: no vowels (no words), no look-alikes (0/o, 1/l).
const suffixAlphabet = 'bcdfghjklmnpqrstvwxz2456789';
const suffixLength = 5;
const maxNameLength = 63;

/** Five characters from Kubernetes' generateName alphabet. */
export function randomNameSuffix(): string {
  return Array.from(
    { length: suffixLength },
    () => suffixAlphabet[randomInt(suffixAlphabet.length)],
  ).join('');
}

/**
 * `os-<version>-<suffix>`: the version lower-cased, runs of anything but letters, digits and
 * dots made one `-`, shortened so the name has at most 63 characters. A version with nothing
 * usable gives `os-<suffix>`.
 */
export function osUpdateName(version: string, suffix: string = randomNameSuffix()): string {
  const room = maxNameLength - 'os-'.length - '-'.length - suffix.length;
  const clean = (text: string): string =>
    text
      // Each dot-separated part of a subdomain starts and ends with a letter or digit.
      .replace(/[-.]*\.[-.]*/g, '.')
      .replace(/^[-.]+|[-.]+$/g, '');
  const part = clean(clean(version.toLowerCase().replace(/[^a-z0-9.]+/g, '-')).slice(0, room));
  return part === '' ? `os-${suffix}` : `os-${part}-${suffix}`;
}
