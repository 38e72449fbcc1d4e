// A TCP proxy on loopback in front of a server, which can cut the network as a broken link or a
// firewall that drops packets would: nothing is refused or reset, what either side sends goes
// nowhere, and connections made meanwhile are accepted and never answered. A connection that
// lived through a cut stays dead after it (its peer has given up on it; the server end is left
// waiting, as a real server's would be, until the proxy stops).
import { connect, createServer, type Server, type Socket } from 'node:net';

export class BlackHoleProxy {
  private cutNow = false;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number, host = '127.0.0.1'): Promise<BlackHoleProxy> {
    let self: BlackHoleProxy | null = null;
    const server = createServer((client) => self!.accept(client, targetPort, host));
    await new Promise<void>((res, rej) => {
      server.once('error', rej);
      server.listen(0, host, () => res());
    });
    self = new BlackHoleProxy(server, (server.address() as { port: number }).port);
    return self;
  }

  private track(s: Socket): void {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
    s.on('error', () => undefined);
  }

  private accept(client: Socket, targetPort: number, host: string): void {
    this.track(client);
    if (this.cutNow) {
      client.on('data', () => undefined);
      return;
    }
    const upstream = connect(targetPort, host);
    this.track(upstream);
    let dead = false;
    const alive = () => !(dead ||= this.cutNow);
    client.on('data', (d) => alive() && upstream.write(d));
    upstream.on('data', (d) => alive() && client.write(d));
    client.on('close', () => alive() && upstream.destroy());
    upstream.on('close', () => alive() && client.destroy());
  }

  /** From now on nothing gets through, on open connections or new ones. */
  cut(): void {
    this.cutNow = true;
  }

  /** New connections get through again (those that lived through the cut stay dead). */
  restore(): void {
    this.cutNow = false;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((res) => this.server.close(() => res()));
  }
}
