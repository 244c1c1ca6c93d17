// What a program driving the load generator needs beside GustBench itself.
@_exported import struct GustIO.SocketAddress
