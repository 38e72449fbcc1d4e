// Types for the part of seek-bzip (pure JavaScript bzip2 decoder) that nfcapd-bz2.ts uses.
declare module 'seek-bzip' {
  interface ByteInput {
    readByte(): number;
    read(buf: Uint8Array, off: number, len: number): number;
    seek(pos: number): void;
    eof(): boolean;
  }
  interface ByteOutput {
    writeByte(b: number): void;
    flush(): void;
  }
  const Bunzip: {
    decode(
      input: ByteInput | Uint8Array,
      output?: ByteOutput | Uint8Array | number,
      multistream?: boolean,
    ): unknown;
  };
  export default Bunzip;
}
