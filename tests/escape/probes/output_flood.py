# Probe (outcome-judged): flood stdout or stderr (STREAM=1|2) with MAX_BYTES. In the
# sandbox airlock must stop it (exit 137, "output limit") and pass on a bounded amount.
p = Probe("output flood")
stream = int(P("STREAM", "1"))
maxb = int(P("MAX_BYTES", str(1 << 30)))
chunk = (b"A" * 1023 + b"\n") * 64
sent = 0
try:
    while sent < maxb:
        sent += os.write(stream, chunk)
except OSError as ex:
    print("write failed after %d bytes: %s" % (sent, en(ex.errno)), file=sys.stderr, flush=True)
    p.ok("write error %s after %d bytes" % (en(ex.errno), sent))
    p.finish()
p.esc("wrote %d bytes to fd %d" % (sent, stream))
p.finish()
