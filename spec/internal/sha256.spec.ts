import { createHash } from 'node:crypto';
import { sha256 } from '../../src/internal/sha256';

const nodeSha256 = (input: string) => createHash('sha256').update(input, 'utf8').digest('hex');

describe('sha256', () => {
  it('matches the FIPS 180-4 test vectors', () => {
    expect(sha256('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
  });

  it('matches node:crypto at every length around the block and padding boundaries', () => {
    // 55/56 bytes is where the length no longer fits in the first block; 64 is a whole block.
    for (let length = 0; length <= 200; length++) {
      const input = 'x'.repeat(length);
      expect(sha256(input)).toBe(nodeSha256(input));
    }
  });

  it('hashes the UTF-8 bytes of non-ASCII text as node:crypto does', () => {
    for (const input of ['héllo wörld', '日本語のテキスト', '🚀 emoji and surrogate pairs 🧪', '\u0000nul\u0000']) {
      expect(sha256(input)).toBe(nodeSha256(input));
    }
  });

  it('matches node:crypto on a large, varied input (multi-block)', () => {
    let input = '';
    for (let i = 0; i < 5_000; i++) input += String.fromCharCode(32 + ((i * 7919) % 95));
    expect(sha256(input)).toBe(nodeSha256(input));
  });
});
