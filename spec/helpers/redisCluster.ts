/*
 * A real Redis Cluster for the rxllm/redis specs: three masters (no replicas), each a redis-server started by
 * redisServer.ts (free loopback port, temporary directory, no persistence, stopped by pid) with cluster mode on.
 * The slots are split in three ranges (CLUSTER ADDSLOTSRANGE) and the nodes joined with CLUSTER MEET through
 * ioredis, so nothing but redis-server is needed (no redis-cli); ready once every node says `cluster_state:ok`
 * and knows all three nodes and all 16384 slots.
 */
import { Redis } from 'ioredis';
import { type RedisServer, startRedisServer } from './redisServer';
import { waitFor } from './waitFor';

export interface RedisCluster {
  /** The three masters, in slot order: node i serves `slotRanges[i]`. */
  nodes: RedisServer[];
  /** `{ host, port }` of every node, for `new Cluster(startupNodes)`. */
  startupNodes: { host: string; port: number }[];
  /** Stops every node (by pid) and removes their directories. */
  close(): Promise<void>;
}

/** The slot ranges assigned to the three masters (inclusive). */
export const slotRanges: readonly (readonly [number, number])[] = [
  [0, 5460],
  [5461, 10922],
  [10923, 16383],
];

export async function startRedisCluster(boundMs = 20_000): Promise<RedisCluster> {
  const nodes: RedisServer[] = [];
  const admins: Redis[] = [];
  const close = async (): Promise<void> => {
    admins.forEach((admin) => admin.disconnect());
    await Promise.all(nodes.map((node) => node.close()));
  };
  try {
    for (const _ of slotRanges) {
      // cluster-config-file is relative to --dir, the node's own temporary directory.
      nodes.push(await startRedisServer(undefined, ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '5000']));
    }
    for (const node of nodes) {
      const admin = new Redis(node.port, '127.0.0.1', { maxRetriesPerRequest: 1, lazyConnect: true });
      admin.on('error', () => undefined);
      await admin.connect();
      admins.push(admin);
    }
    await Promise.all(admins.map((admin, i) => admin.call('CLUSTER', 'ADDSLOTSRANGE', String(slotRanges[i]![0]), String(slotRanges[i]![1]))));
    for (const node of nodes.slice(1)) await admins[0]!.call('CLUSTER', 'MEET', '127.0.0.1', String(node.port));

    await waitFor(
      async () => {
        const infos = await Promise.all(admins.map((admin) => admin.call('CLUSTER', 'INFO') as Promise<string>));
        const ready = infos.every((info) => /cluster_state:ok/.test(info) && /cluster_known_nodes:3\b/.test(info) && /cluster_slots_ok:16384\b/.test(info));
        // Thrown rather than false, so that the bound's message shows what the nodes said last.
        if (!ready) throw new Error(`CLUSTER INFO:\n${infos.join('\n---\n')}`);
        return true;
      },
      'the Redis Cluster reaching cluster_state:ok, with 3 known nodes and 16384 slots on every node',
      boundMs,
      50,
    );
  } catch (error) {
    await close();
    throw error;
  }
  admins.forEach((admin) => admin.disconnect());
  admins.length = 0;
  return { nodes, startupNodes: nodes.map((node) => ({ host: '127.0.0.1', port: node.port })), close };
}
