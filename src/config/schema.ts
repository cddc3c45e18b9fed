/**
 * JSON Schema of topology format podlab/v1. It decides shapes and types (unknown keys are errors);
 * everything that relates one value to another (references, overlaps, capacity) is in validate.ts.
 * `npm run schema` writes it to schemas/podlab-v1.schema.json for editors; a test keeps the two equal.
 */
/** The ajv options the schema is compiled with (at build time, by scripts/write-validator.ts). */
export const shapeOptions = { allErrors: true, strict: true, allowUnionTypes: true } as const;

const dnsLabel = { type: 'string', minLength: 1 } as const;
const cidr = { type: 'string', description: 'An IPv4 network, a.b.c.d/n.' } as const;
const ip = { type: 'string', description: 'An IPv4 address.' } as const;
const labels = {
  type: 'object',
  additionalProperties: { type: 'string' },
  description: 'Kubernetes-style labels: key → value.',
} as const;

const selector = {
  type: 'object',
  additionalProperties: false,
  description: 'A Kubernetes label selector; {} selects everything.',
  properties: {
    matchLabels: labels,
    matchExpressions: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['key', 'operator'],
        properties: {
          key: { type: 'string' },
          operator: { enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'] },
          values: { type: 'array', items: { type: 'string' } },
        },
      },
    },
  },
} as const;

const policyPeers = {
  type: 'array',
  items: {
    type: 'object',
    additionalProperties: false,
    properties: {
      podSelector: selector,
      namespaceSelector: selector,
      ipBlock: {
        type: 'object',
        additionalProperties: false,
        required: ['cidr'],
        properties: { cidr, except: { type: 'array', items: cidr } },
      },
    },
  },
} as const;

const policyPorts = {
  type: 'array',
  items: {
    type: 'object',
    additionalProperties: false,
    properties: {
      protocol: { enum: ['TCP', 'UDP'] },
      port: { type: ['integer', 'string'], description: 'A port number or a named container port.' },
      endPort: { type: 'integer' },
    },
  },
} as const;

/** A NetworkPolicy manifest of networking.k8s.io/v1, as users keep them in their repositories. */
const networkPolicy = {
  type: 'object',
  additionalProperties: false,
  required: ['metadata', 'spec'],
  properties: {
    apiVersion: { const: 'networking.k8s.io/v1' },
    kind: { const: 'NetworkPolicy' },
    metadata: {
      type: 'object',
      required: ['name'],
      description: 'name and namespace (default "default"); labels, annotations and the like are ignored.',
      properties: { name: dnsLabel, namespace: dnsLabel },
    },
    spec: {
      type: 'object',
      additionalProperties: false,
      required: ['podSelector'],
      properties: {
        podSelector: selector,
        policyTypes: { type: 'array', items: { enum: ['Ingress', 'Egress'] } },
        ingress: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            properties: { from: policyPeers, ports: policyPorts },
          },
        },
        egress: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            properties: { to: policyPeers, ports: policyPorts },
          },
        },
      },
    },
  },
} as const;

export const topologySchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://podlab.dev/schemas/podlab-v1.schema.json',
  title: 'podlab topology (podlab/v1)',
  type: 'object',
  additionalProperties: false,
  required: ['apiVersion', 'name', 'nodes'],
  properties: {
    apiVersion: { const: 'podlab/v1', description: 'Format version; this podlab reads podlab/v1.' },
    name: { ...dnsLabel, description: 'Lab name: a DNS label of at most 20 characters.' },
    cluster: {
      type: 'object',
      additionalProperties: false,
      properties: {
        domain: { type: 'string', description: 'Cluster DNS domain (default cluster.local).' },
        podCIDR: { ...cidr, description: 'Cluster pod range, split per node (default 10.244.0.0/16).' },
        nodeMaskSize: { type: 'integer', minimum: 8, maximum: 30, description: 'Prefix of each node range.' },
        serviceCIDR: { ...cidr, description: 'Service ClusterIP range (default 10.96.0.0/12).' },
        nodeSubnet: {
          ...cidr,
          description: 'Docker network of the nodes; a free one is picked when absent.',
        },
      },
    },
    cni: {
      type: 'object',
      additionalProperties: false,
      properties: {
        bridge: { ...dnsLabel, description: 'Bridge interface the CNI plugin creates on each node.' },
        mtu: { type: 'integer', minimum: 576, maximum: 9000 },
        backend: {
          enum: ['host-gw', 'vxlan'],
          description:
            "How pod traffic crosses nodes, as flannel's backends: host-gw (routes to each node's pod range via its node IP; the default) or vxlan (encapsulated in VXLAN between nodes).",
        },
        vxlan: {
          type: 'object',
          additionalProperties: false,
          description: 'With backend vxlan: the VXLAN network identifier and UDP port (flannel: 1 and 8472).',
          properties: {
            vni: { type: 'integer', minimum: 1, maximum: 16777215 },
            port: { type: 'integer', minimum: 1, maximum: 65535 },
          },
        },
      },
    },
    dns: {
      type: 'object',
      additionalProperties: false,
      properties: {
        clusterIP: { ...ip, description: 'ClusterIP of Service kube-system/kube-dns (default 10.96.0.10).' },
        upstream: {
          type: 'array',
          items: ip,
          description: 'Servers for names outside the cluster domain; none: answered at once.',
        },
      },
    },
    engines: {
      type: 'array',
      description:
        'Docker engines the lab spans, joined in one Docker Swarm (absent: one engine, found as the docker CLI finds it).',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: {
          name: dnsLabel,
          host: {
            type: 'string',
            minLength: 1,
            description: 'unix://, tcp:// or ssh:// (absent: the engine the CLI finds by default).',
          },
          tls: {
            type: 'boolean',
            description: 'With tcp://: TLS with ca.pem, cert.pem and key.pem of certPath.',
          },
          certPath: { type: 'string', minLength: 1 },
        },
      },
    },
    nodes: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: {
          name: dnsLabel,
          podCIDR: { ...cidr, description: 'Override of this node range; must lie in cluster.podCIDR.' },
          engine: {
            ...dnsLabel,
            description: 'The engine (of engines) the node runs on; default: the first.',
          },
        },
      },
    },
    pods: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: {
          name: dnsLabel,
          namespace: dnsLabel,
          node: { ...dnsLabel, description: 'Node to run on; spread over the nodes when absent.' },
          replicas: { type: 'integer', minimum: 1, maximum: 250 },
          labels,
          image: { type: 'string', minLength: 1 },
          restartPolicy: {
            enum: ['Always', 'OnFailure', 'Never'],
            description:
              'As in Kubernetes (default Always): with OnFailure or Never the pod runs to completion, so a container that exits is not a failure of lab up.',
          },
          containers: {
            type: 'array',
            minItems: 1,
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['name'],
              properties: {
                name: dnsLabel,
                image: { type: 'string', minLength: 1 },
                command: {
                  type: 'array',
                  items: { type: 'string' },
                  minItems: 1,
                  description: "Replaces the image's ENTRYPOINT, as in Kubernetes.",
                },
                args: {
                  type: 'array',
                  items: { type: 'string' },
                  description: "Replaces the image's CMD, as in Kubernetes.",
                },
                workingDir: { type: 'string', minLength: 1 },
                imagePullPolicy: {
                  enum: ['Never', 'IfNotPresent', 'Always'],
                  description: 'As in Kubernetes (default IfNotPresent); lab up --pull never overrides it.',
                },
                env: { type: 'object', additionalProperties: { type: 'string' } },
                ports: {
                  type: 'array',
                  items: {
                    type: 'object',
                    additionalProperties: false,
                    required: ['containerPort'],
                    properties: {
                      name: dnsLabel,
                      containerPort: { type: 'integer', minimum: 1, maximum: 65535 },
                      protocol: { enum: ['TCP', 'UDP'] },
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
    services: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: {
          name: dnsLabel,
          namespace: dnsLabel,
          type: { enum: ['ClusterIP', 'NodePort', 'ExternalName'] },
          clusterIP: { type: 'string', description: 'An address in serviceCIDR, or None for headless.' },
          externalName: { type: 'string', minLength: 1 },
          selector: labels,
          ports: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['port'],
              properties: {
                name: dnsLabel,
                port: { type: 'integer', minimum: 1, maximum: 65535 },
                targetPort: { type: ['integer', 'string'] },
                protocol: { enum: ['TCP', 'UDP'] },
                nodePort: { type: 'integer' },
                hostPort: {
                  type: 'integer',
                  minimum: 1,
                  maximum: 65535,
                  description: 'Publishes this Service port on the engine host at hostIP:hostPort.',
                },
                hostIP: {
                  type: 'string',
                  description:
                    'The engine host address of hostPort (default 127.0.0.1; 0.0.0.0 for every address).',
                },
              },
            },
          },
        },
      },
    },
    namespaces: {
      type: 'array',
      description: 'Namespaces with labels, for NetworkPolicy namespaceSelectors.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: { name: dnsLabel, labels },
      },
    },
    networkPolicies: {
      type: 'array',
      description:
        'NetworkPolicy manifests (networking.k8s.io/v1), inline or as paths (relative to this file) of YAML files holding one or more.',
      items: { anyOf: [networkPolicy, { type: 'string', minLength: 1 }] },
    },
    exercises: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      description: 'Exercise modules, as paths relative to this file.',
    },
  },
} as const;
