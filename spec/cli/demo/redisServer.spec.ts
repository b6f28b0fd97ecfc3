import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findRedisServer, startRedisServer } from '../../../src/cli/demo/redisServer';
import { describeWithRedis } from '../../helpers/redisServer';
import { waitFor } from '../../helpers/waitFor';

/** Whether something accepts connections on the loopback port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => (socket.destroy(), resolve(false)));
    socket.connect(port, '127.0.0.1');
  });
}

describe('findRedisServer', () => {
  it('finds an executable redis-server on the given PATH only', () => {
    const bin = mkdtempSync(join(tmpdir(), 'rxllm-path-'));
    expect(findRedisServer(`/nonexistent:${bin}`)).toBeUndefined();
    writeFileSync(join(bin, 'redis-server'), '#!/bin/sh\n');
    expect(findRedisServer(bin)).toBeUndefined(); // not executable
    chmodSync(join(bin, 'redis-server'), 0o755);
    expect(findRedisServer(`/nonexistent:${bin}`)).toBe(join(bin, 'redis-server'));
    expect(findRedisServer('')).toBeUndefined();
    expect(findRedisServer(undefined)).toBe(findRedisServer(process.env['PATH']));
  });
});

describeWithRedis('startRedisServer', () => {
  it('starts on a free loopback port, and killNow() stops it by pid and removes its directory at once', async () => {
    const server = await startRedisServer();
    expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);
    expect(await accepts(server.port)).toBe(true);
    server.killNow();
    await waitFor(async () => !(await accepts(server.port)), 'the killed redis-server no longer accepting connections');
    expect(await accepts(server.port)).toBe(false);
    await server.close(); // nothing left to stop
  });

  it('rejects with its stderr when the binary exits before accepting connections', async () => {
    const bin = mkdtempSync(join(tmpdir(), 'rxllm-path-'));
    writeFileSync(join(bin, 'redis-server'), '#!/bin/sh\necho "bad config" >&2\nexit 3\n');
    chmodSync(join(bin, 'redis-server'), 0o755);
    await expect(startRedisServer(join(bin, 'redis-server'))).rejects.toThrow(/exited \(3\) before accepting connections: bad config/);
  });
});
