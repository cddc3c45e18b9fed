import type { PathPart } from './path.js';
import type { Topology } from './types.js';
import { checkName, dns1123Label, nameLimits, printable, type Report } from './validate-names.js';

/** What the docker CLI takes as an engine's address: unix://PATH, tcp://HOST[:PORT], ssh://[USER@]HOST[:PORT]. */
const engineHost =
  /^(unix:\/\/\/\S+|tcp:\/\/[^\s/:@]+(:\d{1,5})?\/?|ssh:\/\/([^\s/@]+@)?[^\s/:@]+(:\d{1,5})?\/?)$/;

/** Engines: names, addresses, TLS, and the nodes' references to them. */
export function checkEngines(topology: Topology, report: Report): void {
  const names = new Map<string, number>();
  const hosts = new Map<string, number>();
  topology.engines.forEach((engine, i) => {
    const path: PathPart[] = ['engines', i];
    checkName(report, [...path, 'name'], engine.name, nameLimits.label, 'engine name', dns1123Label);
    if (names.has(engine.name))
      report(
        [...path, 'name'],
        `engine ${engine.name} is listed twice (also engines[${names.get(engine.name)}])`,
      );
    else names.set(engine.name, i);
    const host = engine.host ?? '(the default engine)';
    if (hosts.has(host))
      report(
        [...path, 'host'],
        `engines[${hosts.get(host)}] is ${host} too: each engine of a lab is another engine${engine.host === undefined ? ' (only one may leave host out: the engine the CLI finds by default)' : ''}`,
      );
    else hosts.set(host, i);
    if (engine.host !== undefined && !engineHost.test(engine.host))
      report(
        [...path, 'host'],
        `"${printable(engine.host)}" is not an engine address: write unix:///path/to/docker.sock, tcp://HOST:2376 or ssh://USER@HOST`,
      );
    const tcp = engine.host?.startsWith('tcp://') ?? false;
    if ((engine.tls !== undefined || engine.certPath !== undefined) && !tcp)
      report(path, 'tls and certPath go with a tcp:// host');
    if (engine.certPath !== undefined && !engine.tls)
      report([...path, 'certPath'], 'certPath is read only with tls: true');
  });
  const listed = topology.engines.map((e) => e.name);
  topology.nodes.forEach((node, i) => {
    if (node.engine === undefined) return;
    if (listed.length === 0)
      report(
        ['nodes', i, 'engine'],
        `node ${node.name} names engine "${node.engine}", but the topology lists no engines: add engines: with it, or remove engine:`,
      );
    else if (!listed.includes(node.engine))
      report(['nodes', i, 'engine'], `unknown engine "${node.engine}"; engines are ${listed.join(', ')}`);
  });
  topology.engines.forEach((e, i) => {
    if (!topology.nodes.some((n) => (n.engine ?? topology.engines[0]?.name) === e.name))
      report(['engines', i], `engine ${e.name} holds no node; it is not used`, 'warning');
  });
}
