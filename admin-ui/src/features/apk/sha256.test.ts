import { Sha256, sha256Hex } from "./sha256";

const hex = (s: string) => new TextEncoder().encode(s);

describe("sha256", () => {
  it("matches the FIPS 180-4 test vectors, fed in any chunking", () => {
    expect(new Sha256().update(hex("")).digestHex()).toBe(
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
    expect(new Sha256().update(hex("abc")).digestHex()).toBe(
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
    const long = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    const h = new Sha256();
    for (const ch of long) h.update(hex(ch));
    expect(h.digestHex()).toBe("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    // a million "a": crosses many blocks and the 55/56-byte padding edge
    const big = new Uint8Array(1_000_000).fill(0x61);
    const h2 = new Sha256();
    for (let i = 0; i < big.length; i += 4099) h2.update(big.subarray(i, i + 4099));
    expect(h2.digestHex()).toBe("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  });

  it("hashes a file without Web Crypto, as over plain http", async () => {
    vi.stubGlobal("crypto", {});
    const file = new Blob(["abc"]);
    expect(await sha256Hex(file)).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
});
