import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../errors.js';

/**
 * How podlab reaches a Docker engine: found as the docker CLI finds it (DOCKER_HOST, else
 * DOCKER_CONTEXT, else the current context of the CLI's config, else the default socket). This module
 * is the only reader of those variables and files; everything else asks it.
 */
export interface Engine {
  /** The endpoint as the docker CLI writes it: `unix:///var/run/docker.sock`, `tcp://10.0.0.5:2376`, `ssh://me@box`. */
  address: string;
  /** Why this endpoint: `DOCKER_HOST`, `DOCKER_CONTEXT=ci`, `current context ci in ~/.docker/config.json`, `the default socket`. */
  source: string;
  kind: 'unix' | 'npipe' | 'tcp' | 'ssh';
  /** dockerode's connection options; every key is present, so that nothing falls back to the environment. */
  options: ConnectOptions;
}

/** What dockerode (docker-modem) takes to connect. */
export interface ConnectOptions {
  socketPath: string | undefined;
  host: string | undefined;
  port: number | undefined;
  protocol: 'http' | 'https' | 'ssh' | undefined;
  username: string | undefined;
  ca: string | undefined;
  cert: string | undefined;
  key: string | undefined;
  sshOptions: { agent?: string };
}

/** What resolution reads: the environment, the home directory and files (injected in unit tests). */
export interface EngineSources {
  env: Record<string, string | undefined>;
  home: string;
  /** A file's text, undefined when it does not exist. */
  read(path: string): string | undefined;
  /** Whether a path exists (a socket). */
  exists(path: string): boolean;
}

/** The real environment and file system. */
export function processSources(): EngineSources {
  return {
    env: process.env,
    home: homedir(),
    read: (path) => (existsSync(path) ? readFileSync(path, 'utf8') : undefined),
    exists: existsSync,
  };
}

const defaultSocket = '/var/run/docker.sock';

/** The docker CLI's configuration directory (`DOCKER_CONFIG`, else `~/.docker`). */
function configDir(s: EngineSources): string {
  return s.env.DOCKER_CONFIG || join(s.home, '.docker');
}

/** Finds the engine as the docker CLI would (see Engine). Throws a UsageError naming what is wrong. */
export function resolveEngine(s: EngineSources = processSources()): Engine {
  const host = s.env.DOCKER_HOST;
  if (host) {
    const verify = Boolean(s.env.DOCKER_TLS_VERIFY);
    const certDir = s.env.DOCKER_CERT_PATH || configDir(s);
    return endpoint(host, 'DOCKER_HOST', s, verify ? { dir: certDir, from: 'DOCKER_CERT_PATH' } : undefined);
  }
  const fromEnv = s.env.DOCKER_CONTEXT;
  let name = fromEnv;
  let source = `DOCKER_CONTEXT=${fromEnv}`;
  if (!name) {
    const path = join(configDir(s), 'config.json');
    const text = s.read(path);
    if (text !== undefined) {
      let config: { currentContext?: unknown };
      try {
        config = JSON.parse(text) as { currentContext?: unknown };
      } catch (error) {
        throw new UsageError(
          `the docker CLI's config ${path} is not valid JSON: ${(error as Error).message}`,
          'fix the file, or set DOCKER_HOST to the engine to use',
        );
      }
      if (typeof config.currentContext === 'string' && config.currentContext) {
        name = config.currentContext;
        source = `current context ${name} in ${path}`;
      }
    }
  }
  if (name && name !== 'default') return fromContext(name, source, s);
  // Docker Desktop's newer installs keep the socket in the home directory and no longer at the system path.
  const desktop = join(s.home, '.docker', 'run', 'docker.sock');
  const socket = !s.exists(defaultSocket) && s.exists(desktop) ? desktop : defaultSocket;
  return endpoint(
    `unix://${socket}`,
    name === 'default' ? `${source} (the default socket)` : 'the default socket',
    s,
  );
}

/** A context's endpoint and TLS material, from the docker CLI's context store. */
function fromContext(name: string, source: string, s: EngineSources): Engine {
  const id = createHash('sha256').update(name).digest('hex');
  const metaPath = join(configDir(s), 'contexts', 'meta', id, 'meta.json');
  const text = s.read(metaPath);
  if (text === undefined)
    throw new UsageError(
      `docker context "${name}" (from ${source}) does not exist: there is no ${metaPath}`,
      'list the contexts with docker context ls, and pick one with docker context use NAME (or set DOCKER_HOST)',
    );
  let meta: { Endpoints?: { docker?: { Host?: unknown; SkipTLSVerify?: unknown } } };
  try {
    meta = JSON.parse(text) as typeof meta;
  } catch (error) {
    throw new UsageError(
      `docker context "${name}": ${metaPath} is not valid JSON: ${(error as Error).message}`,
      `recreate it: docker context rm ${name}, then docker context create ${name} --docker host=…`,
    );
  }
  const host = meta.Endpoints?.docker?.Host;
  if (typeof host !== 'string' || !host)
    throw new UsageError(
      `docker context "${name}" has no Docker endpoint in ${metaPath}`,
      `set one: docker context update ${name} --docker host=tcp://HOST:2376`,
    );
  const tlsDir = join(configDir(s), 'contexts', 'tls', id, 'docker');
  const tls =
    s.read(join(tlsDir, 'ca.pem')) !== undefined ? { dir: tlsDir, from: `context ${name}` } : undefined;
  return endpoint(host, source, s, tls);
}

/** Parses an endpoint as the docker CLI writes it. */
function endpoint(
  text: string,
  source: string,
  s: EngineSources,
  tls?: { dir: string; from: string },
): Engine {
  const none: ConnectOptions = {
    socketPath: undefined,
    host: undefined,
    port: undefined,
    protocol: undefined,
    username: undefined,
    ca: undefined,
    cert: undefined,
    key: undefined,
    sshOptions: {},
  };
  const bad = (why: string) =>
    new UsageError(
      `the Docker endpoint ${text} (from ${source}) ${why}`,
      'write it as unix:///path/to/docker.sock, tcp://HOST:PORT or ssh://USER@HOST',
    );
  if (text.startsWith('unix://')) {
    const path = text.slice('unix://'.length) || defaultSocket;
    return { address: `unix://${path}`, source, kind: 'unix', options: { ...none, socketPath: path } };
  }
  if (text.startsWith('npipe://')) {
    const path = text.slice('npipe://'.length) || '//./pipe/docker_engine';
    return { address: `npipe://${path}`, source, kind: 'npipe', options: { ...none, socketPath: path } };
  }
  const withScheme = text.includes('://') ? text : `tcp://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw bad('is not an address');
  }
  if (!url.hostname) throw bad('names no host');
  if (url.protocol === 'ssh:') {
    const port = url.port ? Number(url.port) : 22;
    return {
      address: `ssh://${url.username ? `${url.username}@` : ''}${url.hostname}${url.port ? `:${url.port}` : ''}`,
      source,
      kind: 'ssh',
      options: {
        ...none,
        host: url.hostname,
        port,
        protocol: 'ssh',
        username: url.username || undefined,
        sshOptions: s.env.SSH_AUTH_SOCK ? { agent: s.env.SSH_AUTH_SOCK } : {},
      },
    };
  }
  if (url.protocol !== 'tcp:' && url.protocol !== 'http:' && url.protocol !== 'https:')
    throw bad(`uses ${url.protocol.slice(0, -1)}://, which podlab does not speak`);
  const secure = tls !== undefined || url.protocol === 'https:';
  const port = url.port ? Number(url.port) : secure ? 2376 : 2375;
  const files = tls ? readTls(tls, s) : {};
  return {
    address: `tcp://${url.hostname}:${port}`,
    source: tls ? `${source}, TLS from ${tls.dir}` : source,
    kind: 'tcp',
    options: { ...none, host: url.hostname, port, protocol: secure ? 'https' : 'http', ...files },
  };
}

function readTls(
  tls: { dir: string; from: string },
  s: EngineSources,
): Pick<ConnectOptions, 'ca' | 'cert' | 'key'> {
  const out: Record<string, string> = {};
  for (const name of ['ca', 'cert', 'key']) {
    const path = join(tls.dir, `${name}.pem`);
    const text = s.read(path);
    if (text === undefined)
      throw new UsageError(
        `TLS is asked for (${tls.from === 'DOCKER_CERT_PATH' ? 'DOCKER_TLS_VERIFY' : tls.from}), but ${path} is missing`,
        `put ca.pem, cert.pem and key.pem in ${tls.dir}${tls.from === 'DOCKER_CERT_PATH' ? ', or point DOCKER_CERT_PATH at the folder that has them' : ''}`,
      );
    out[name] = text;
  }
  return out as Pick<ConnectOptions, 'ca' | 'cert' | 'key'>;
}

/**
 * An engine a topology names (`engines[].host`, with `tls` and `certPath`); one without host is the
 * engine the CLI finds by default.
 */
export function engineFor(
  config: { name: string; host?: string; tls?: boolean; certPath?: string },
  s: EngineSources = processSources(),
): Engine {
  if (config.host === undefined) return currentEngine();
  return endpoint(
    config.host,
    `engine ${config.name} of the topology`,
    s,
    config.tls
      ? { dir: config.certPath ?? configDir(s), from: `engines[${config.name}].certPath` }
      : undefined,
  );
}

let current: Engine | undefined;

/** The engine this process uses (resolved once, from the real environment). */
export function currentEngine(): Engine {
  current ??= resolveEngine();
  return current;
}
