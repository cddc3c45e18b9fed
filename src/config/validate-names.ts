import { contains, lastIp, parseCidr } from '../net/ipv4.js';
import type { PathPart } from './path.js';

/** Where a problem is and what it is; collected, never thrown, so that every problem shows at once. */
export type Report = (path: PathPart[], message: string, severity?: 'error' | 'warning') => void;

/** Limits that Linux and Kubernetes put on names; each is checked with the reason it exists. */
export const nameLimits = {
  lab: 20,
  label: 63,
  interface: 15,
  portName: 15,
} as const;

export const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const dns1035Label = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
export const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
export const labelKey =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
export const envName = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const interfaceName = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
export const portName = /^(?=.*[a-z])[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
export const imageRef =
  /^[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*(:[\w][\w.-]{0,127})?(@sha256:[a-f0-9]{64})?$/;

export { nodePortRange } from './types.js';

/** Checks a name against its pattern and length limit, saying which rule it breaks. */
export function checkName(
  report: Report,
  path: PathPart[],
  value: string,
  max: number,
  what: string,
  pattern: RegExp,
  rule = 'lowercase letters, digits and -, starting and ending with a letter or digit',
): void {
  if (!pattern.test(value)) report(path, `"${printable(value)}" is not a valid ${what}: use ${rule}`);
  else if (value.length > max)
    report(
      path,
      `"${value}" is ${value.length} characters; ${/^[aeiou]/.test(what) ? 'an' : 'a'} ${what} may have at most ${max}`,
    );
}

/** Checks label keys and values as Kubernetes does. */
export function checkLabels(report: Report, path: PathPart[], labels: Record<string, string>): void {
  for (const [k, v] of Object.entries(labels)) {
    if (!labelKey.test(k) || k.length > 316) report([...path, k], `"${printable(k)}" is not a label key`);
    if (!labelValue.test(v) || v.length > nameLimits.label)
      report([...path, k], `"${printable(v)}" is not a label value (at most 63 letters, digits, -, _ and .)`);
  }
}

/** Shows control characters escaped, so a newline in a name is visible in the message. */
export function printable(s: string): string {
  return JSON.stringify(s).slice(1, -1);
}

/** Whether an address is a usable host address of a network (not its network or broadcast address). */
export function usableIn(c: ReturnType<typeof parseCidr>, ip: number): boolean {
  return contains(c, ip) && ip !== c.base && ip !== lastIp(c);
}

export function withinText(inner: string, outer: string): boolean {
  const a = parseCidr(inner);
  const b = parseCidr(outer);
  return a.bits >= b.bits && contains(b, a.base);
}
