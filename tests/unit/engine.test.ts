import { createHash } from 'node:crypto';
import test from 'ava';
import { UsageError } from '../../src/errors.js';
import { type EngineSources, resolveEngine } from '../../src/runtime/engine.js';

/** Sources with the given environment and files (and sockets) under a fake home. */
function sources(
  env: Record<string, string>,
  files: Record<string, string> = {},
  sockets: string[] = [],
): EngineSources {
  return {
    env,
    home: '/home/ada',
    read: (path) => files[path],
    exists: (path) => path in files || sockets.includes(path),
  };
}

const contextDir = (name: string) => createHash('sha256').update(name).digest('hex');
const meta = (name: string, host: string) => ({
  [`/home/ada/.docker/contexts/meta/${contextDir(name)}/meta.json`]: JSON.stringify({
    Name: name,
    Metadata: {},
    Endpoints: { docker: { Host: host, SkipTLSVerify: false } },
  }),
});

test('nothing set: the default socket, and Docker Desktop’s socket in the home when only that exists', (t) => {
  const plain = resolveEngine(sources({}, {}, ['/var/run/docker.sock']));
  t.is(plain.address, 'unix:///var/run/docker.sock');
  t.is(plain.source, 'the default socket');
  t.is(plain.options.socketPath, '/var/run/docker.sock');
  t.is(plain.options.host, undefined);
  t.true(
    'host' in plain.options,
    'every key is present, so that docker-modem reads nothing from the environment',
  );
  const desktop = resolveEngine(sources({}, {}, ['/home/ada/.docker/run/docker.sock']));
  t.is(desktop.address, 'unix:///home/ada/.docker/run/docker.sock');
});

test('DOCKER_HOST: unix, tcp, tcp with TLS from DOCKER_CERT_PATH, ssh; it wins over DOCKER_CONTEXT', (t) => {
  t.deepEqual(
    resolveEngine(sources({ DOCKER_HOST: 'unix:///run/user/1000/docker.sock', DOCKER_CONTEXT: 'ci' })).options
      .socketPath,
    '/run/user/1000/docker.sock',
  );
  const tcp = resolveEngine(sources({ DOCKER_HOST: 'tcp://127.0.0.1:23750' }));
  t.like(tcp, { address: 'tcp://127.0.0.1:23750', source: 'DOCKER_HOST', kind: 'tcp' });
  t.like(tcp.options, { host: '127.0.0.1', port: 23750, protocol: 'http', socketPath: undefined });
  const bare = resolveEngine(sources({ DOCKER_HOST: 'docker.ci.internal' }));
  t.is(bare.address, 'tcp://docker.ci.internal:2375');
  const certs = { '/certs/ca.pem': 'CA', '/certs/cert.pem': 'CERT', '/certs/key.pem': 'KEY' };
  const tls = resolveEngine(
    sources({ DOCKER_HOST: 'tcp://10.1.2.3', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/certs' }, certs),
  );
  t.like(tls.options, {
    host: '10.1.2.3',
    port: 2376,
    protocol: 'https',
    ca: 'CA',
    cert: 'CERT',
    key: 'KEY',
  });
  t.is(tls.source, 'DOCKER_HOST, TLS from /certs');
  const ssh = resolveEngine(
    sources({ DOCKER_HOST: 'ssh://lab@10.0.0.12:2222', SSH_AUTH_SOCK: '/tmp/agent' }),
  );
  t.like(ssh, { address: 'ssh://lab@10.0.0.12:2222', kind: 'ssh' });
  t.like(ssh.options, { host: '10.0.0.12', port: 2222, protocol: 'ssh', username: 'lab' });
  t.deepEqual(ssh.options.sshOptions, { agent: '/tmp/agent' });
});

test('DOCKER_TLS_VERIFY without the files, or an endpoint podlab cannot speak: a clear error', (t) => {
  const missing = t.throws(
    () =>
      resolveEngine(
        sources({ DOCKER_HOST: 'tcp://10.1.2.3', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/certs' }),
      ),
    { instanceOf: UsageError },
  );
  t.is(missing.message, 'TLS is asked for (DOCKER_TLS_VERIFY), but /certs/ca.pem is missing');
  t.regex(missing.hint!, /point DOCKER_CERT_PATH at the folder/);
  const fd = t.throws(() => resolveEngine(sources({ DOCKER_HOST: 'fd://3' })), { instanceOf: UsageError });
  t.is(fd.message, 'the Docker endpoint fd://3 (from DOCKER_HOST) uses fd://, which podlab does not speak');
});

test('contexts: DOCKER_CONTEXT, else the current context of config.json; default is the socket', (t) => {
  const files = {
    ...meta('ci', 'tcp://192.0.2.10:2375'),
    ...meta('remote', 'ssh://me@192.0.2.11'),
    '/home/ada/.docker/config.json': JSON.stringify({ currentContext: 'remote' }),
  };
  const ci = resolveEngine(sources({ DOCKER_CONTEXT: 'ci' }, files));
  t.like(ci, { address: 'tcp://192.0.2.10:2375', source: 'DOCKER_CONTEXT=ci' });
  const current = resolveEngine(sources({}, files));
  t.like(current, {
    address: 'ssh://me@192.0.2.11',
    source: 'current context remote in /home/ada/.docker/config.json',
  });
  const byDefault = resolveEngine(sources({ DOCKER_CONTEXT: 'default' }, files, ['/var/run/docker.sock']));
  t.is(byDefault.address, 'unix:///var/run/docker.sock');
  // DOCKER_CONFIG moves the whole store.
  const moved = Object.fromEntries(
    Object.entries(files).map(([k, v]) => [k.replace('/home/ada/.docker', '/etc/dc'), v]),
  );
  t.is(resolveEngine(sources({ DOCKER_CONFIG: '/etc/dc' }, moved)).address, 'ssh://me@192.0.2.11');
  // A context with TLS material in the store speaks https with it.
  const tlsDir = `/home/ada/.docker/contexts/tls/${contextDir('ci')}/docker`;
  const secure = resolveEngine(
    sources(
      { DOCKER_CONTEXT: 'ci' },
      { ...files, [`${tlsDir}/ca.pem`]: 'A', [`${tlsDir}/cert.pem`]: 'B', [`${tlsDir}/key.pem`]: 'C' },
    ),
  );
  t.like(secure.options, { protocol: 'https', ca: 'A', cert: 'B', key: 'C' });
});

test('a context that does not exist, or a broken config.json: a clear error naming it', (t) => {
  const missing = t.throws(() => resolveEngine(sources({ DOCKER_CONTEXT: 'gone' })), {
    instanceOf: UsageError,
  });
  t.regex(
    missing.message,
    /^docker context "gone" \(from DOCKER_CONTEXT=gone\) does not exist: there is no \/home\/ada\/\.docker\/contexts\/meta\/[0-9a-f]{64}\/meta\.json$/,
  );
  t.regex(missing.hint!, /docker context ls/);
  const broken = t.throws(() => resolveEngine(sources({}, { '/home/ada/.docker/config.json': '{nope' })), {
    instanceOf: UsageError,
  });
  t.regex(broken.message, /^the docker CLI's config \/home\/ada\/\.docker\/config\.json is not valid JSON/);
});
