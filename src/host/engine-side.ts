import type { Runtime } from '../runtime/runtime.js';
import type { Host } from './host.js';
import { parseProcRoutes } from './routes.js';

/**
 * What podlab reads of the engine host: its routes (collisions, the automatic node subnet), the
 * kernel settings that labs depend on, and the host firewall's tools (lab doctor).
 */
export const engineHostFiles = [
  '/proc/net/route',
  '/proc/sys/net/bridge/bridge-nf-call-iptables',
  '/proc/sys/net/ipv4/neigh/default/gc_thresh3',
  '/proc/net/stat/arp_cache',
  '/proc/sys/net/ipv4/ip_forward',
] as const;
export const engineHostCommands = [
  ['iptables', '--version'],
  ['iptables', '-S', 'FORWARD'],
  // Listening sockets: a lab's hostPort must be free.
  ['ss', '-Hltnu'],
] as const;

/** Separators of the helper's output: record, key/value, and "missing". */
const [RS, US, NAK] = ['\x1e', '\x1f', '\x15'];

/**
 * The script a helper container runs on the engine host's network namespace (and so sees its
 * /proc/net and /proc/sys/net): every file and command above, each as RS key US value (NAK when it
 * cannot be read). Paths and commands are podlab's constants, never the topology's.
 */
export function helperScript(): string {
  const files = engineHostFiles.map(
    (f) => `printf '${RS}%s${US}' '${f}'; cat '${f}' 2>/dev/null || printf '${NAK}'`,
  );
  const commands = engineHostCommands.map(
    (c) => `printf '${RS}%s${US}' '${c.join(' ')}'; ${c.join(' ')} 2>&1 || printf '${NAK}'`,
  );
  return [...files, ...commands].join('\n');
}

/** The helper's output as values by file path or command line; undefined for what could not be read. */
export function parseSnapshot(text: string): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  for (const record of text.split(RS).slice(1)) {
    const at = record.indexOf(US);
    if (at < 0) continue;
    const value = record.slice(at + 1);
    out.set(record.slice(0, at), value.endsWith(NAK) ? undefined : value.trim());
  }
  return out;
}

/**
 * The engine host as podlab should read it: this machine when the CLI runs on it, in its network
 * namespace (Host.sharesEngineNetwork); otherwise (Docker Desktop, a remote engine, a CLI in a
 * container or a namespace of its own) through one short-lived helper container on the engine's
 * host network, read once. Locks and the owner stay this machine's.
 */
export async function engineSide(host: Host, runtime: Runtime, image: () => Promise<string>): Promise<Host> {
  if (await host.sharesEngineNetwork(runtime)) return host;
  let snapshot: Promise<Map<string, string | undefined>> | undefined;
  const take = () => {
    snapshot ??= readThroughHelper(runtime, image);
    return snapshot;
  };
  return {
    where: 'the engine host, through a helper container',
    routes: async () => parseProcRoutes((await take()).get('/proc/net/route') ?? ''),
    read: async (path) => (await take()).get(path),
    run: async (file, args) => (await take()).get([file, ...args].join(' ')),
    sharesEngineNetwork: async () => false,
    lock: (name, options) => host.lock(name, options),
    owner: () => host.owner(),
  };
}

async function readThroughHelper(
  runtime: Runtime,
  image: () => Promise<string>,
): Promise<Map<string, string | undefined>> {
  const name = `podlab-helper-host-${process.pid}-${Date.now().toString(36)}`;
  const id = await runtime.runContainer({
    name,
    image: await image(),
    labels: { 'io.podlab.helper': 'engine-host' },
    env: {},
    cmd: ['sleep', '60'],
    network: { mode: 'host' },
    // Reading the host firewall needs NET_ADMIN; nothing is changed.
    capAdd: ['NET_ADMIN'],
    sysctls: {},
    autoRemove: true,
  });
  try {
    const result = await runtime.exec(name, ['sh', '-c', helperScript()]);
    return parseSnapshot(result.stdout);
  } finally {
    await runtime.removeContainer(id).catch(() => {});
  }
}
