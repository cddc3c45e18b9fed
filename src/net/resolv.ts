import { count } from '../text.js';

/** What /etc/resolv.conf tells a resolver. */
export interface ResolvConf {
  nameservers: string[];
  search: string[];
  ndots: number;
}

/** Reads resolv.conf text as glibc does: the last `search` line wins, ndots defaults to 1. */
export function parseResolvConf(text: string): ResolvConf {
  const conf: ResolvConf = { nameservers: [], search: [], ndots: 1 };
  for (const raw of text.split('\n')) {
    const [keyword, ...rest] = raw
      .replace(/[#;].*$/, '')
      .trim()
      .split(/\s+/);
    if (keyword === 'nameserver' && rest[0]) conf.nameservers.push(rest[0]);
    else if (keyword === 'search' || keyword === 'domain') conf.search = rest;
    else if (keyword === 'options') {
      for (const option of rest) {
        const m = /^ndots:(\d+)$/.exec(option);
        if (m) conf.ndots = Math.min(15, Number(m[1]));
      }
    }
  }
  return conf;
}

/** The names a resolver tries for `name`, in order, and why in that order. */
export function searchCandidates(
  name: string,
  conf: Pick<ResolvConf, 'search' | 'ndots'>,
): { names: string[]; why: string } {
  if (name.endsWith('.'))
    return { names: [name], why: `"${name}" ends with a dot: it is absolute, the search list is not used` };
  const dots = name.split('.').length - 1;
  const searched = conf.search.map((domain) => `${name}.${domain}.`);
  if (dots >= conf.ndots) {
    return {
      names: [`${name}.`, ...searched],
      why: `"${name}" has ${count(dots, 'dot')} (ndots:${conf.ndots} or more): tried as it is first, then with the search list`,
    };
  }
  return {
    names: [...searched, `${name}.`],
    why: `"${name}" has ${count(dots, 'dot')} (fewer than ndots:${conf.ndots}): the search list is tried first, the name as it is last`,
  };
}
