/* Fuzz target: the daemon's YAML configuration parser (src/daemon/config.c). */
#include <stddef.h>
#include <stdint.h>

#include "daemon/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct config c;
        struct diag d = {0};
        config_defaults(&c);
        (void)config_parse_yaml(&c, (const char *)data, size, "fuzz", &d);
        return 0;
}
