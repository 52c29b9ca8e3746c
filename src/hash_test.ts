import assert from "node:assert/strict";
import { hex, sha256Hex } from "./hash.ts";

Deno.test("sha256Hex: strings as UTF-8 and bytes give the same digest, truncation is a prefix", async () => {
  const empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  assert.equal(await sha256Hex(""), empty);
  assert.equal(await sha256Hex(new Uint8Array()), empty);
  const abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  assert.equal(await sha256Hex("abc"), abc);
  assert.equal(await sha256Hex(new TextEncoder().encode("abc")), abc);
  assert.equal(await sha256Hex("abc", 8), abc.slice(0, 16));
  assert.equal(await sha256Hex("é"), await sha256Hex(new Uint8Array([0xc3, 0xa9])));
});

Deno.test("hex: lower case, two digits a byte", () => {
  assert.equal(hex(new Uint8Array([0, 15, 255])), "000fff");
  assert.equal(hex(new Uint8Array([1, 2]).buffer), "0102");
});
