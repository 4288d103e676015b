/* Replays every file of a corpus directory through a fuzz target, so `meson test`
 * exercises the corpora without libFuzzer (systemd's fuzz-main.c pattern). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv) {
        int files = 0;
        for (int i = 1; i < argc; i++) {
                DIR *d = opendir(argv[i]);
                if (!d) {
                        perror(argv[i]);
                        return 1;
                }
                struct dirent *e;
                while ((e = readdir(d))) {
                        if (e->d_name[0] == '.')
                                continue;
                        char path[4096];
                        snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
                        FILE *f = fopen(path, "rb");
                        if (!f)
                                continue;
                        static uint8_t buf[1 << 20];
                        size_t n = fread(buf, 1, sizeof(buf), f);
                        fclose(f);
                        LLVMFuzzerTestOneInput(buf, n);
                        files++;
                }
                closedir(d);
        }
        printf("1..1\nok 1 - replayed %d corpus files\n", files);
        return files > 0 ? 0 : 1;
}
