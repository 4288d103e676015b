/* Fuzz target: the daemon's JSON request parsing and validation (src/daemon/requests.c),
 * the first code that looks inside a request body from the network. */
#include <stddef.h>
#include <stdint.h>

#include "daemon/requests.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        json_t *req = NULL, *err = NULL;
        if (request_session_create((const char *)data, size, &req, &err) == 0)
                json_decref(req);
        else
                json_decref(err);
        struct exec_req er;
        req = err = NULL;
        if (request_execute((const char *)data, size, &req, &er, &err) == 0)
                json_decref(req);
        else
                json_decref(err);
        req = err = NULL;
        if (request_context_create((const char *)data, size, &req, &err) == 0)
                json_decref(req);
        else
                json_decref(err);
        req = err = NULL;
        if (request_command((const char *)data, size, &req, &err) == 0)
                json_decref(req);
        else
                json_decref(err);
        return 0;
}
