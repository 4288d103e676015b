# Probe: the kernel keyring API (add_key, request_key, keyctl) must be refused: keys are not
# namespaced and the API has a history of kernel bugs.
p = Probe("keyrings")
KEY_SPEC_PROCESS_KEYRING, KEY_SPEC_SESSION_KEYRING, KEY_SPEC_USER_KEYRING = -2, -3, -4
r = sc("add_key", b"user", b"airlock-probe", b"x", 1, KEY_SPEC_PROCESS_KEYRING)
p.sys_attempt("add_key(user, process keyring)", r)
p.sys_attempt("keyctl(GET_KEYRING_ID, user)", sc("keyctl", 0, KEY_SPEC_USER_KEYRING, 0))
p.sys_attempt("keyctl(JOIN_SESSION_KEYRING)", sc("keyctl", 1, None))
p.sys_attempt("request_key(user, absent)", sc("request_key", b"user", b"airlock-absent", None, 0),
              escape_if=lambda r, e: e in (0, errno.ENOKEY))
keys = read_text("/proc/keys")
if keys:
    p.esc("/proc/keys readable with %d keys" % len(keys.splitlines()))
p.finish()
