# SPDX-License-Identifier: GPL-2.0-only
# berth: bpf/*.bpf.c -> build/*.bpf.o -> bpftool gen skeleton -> build/*.skel.h
#        -> src/*.c objects that include it -> build/berth
#
# vmlinux.h is generated from the running kernel's BTF (see README, "Why
# vmlinux.h is generated"). `make V=1` prints every command.

OUTPUT ?= build
CLANG ?= clang
BPFTOOL ?= bpftool
CC ?= cc
PKG_CONFIG ?= pkg-config
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux

ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
GIT_REV := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

LIBS := libbpf libelf zlib jansson libcurl yaml-0.1 openssl
WARNINGS := -Wall -Wextra -Werror
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=gnu11 $(WARNINGS) $(CFLAGS) -Iinclude -Isrc -I$(OUTPUT) \
	-DBERTH_VERSION='"$(VERSION)"' -DBERTH_GIT_REV='"$(GIT_REV)"' \
	$(shell $(PKG_CONFIG) --cflags $(LIBS))
LDLIBS := $(shell $(PKG_CONFIG) --libs $(LIBS)) -lm
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) $(WARNINGS) \
	-Wno-unused-function -I$(OUTPUT) -Iinclude -Ibpf

BPF_PROGS := berth
BPF_OBJS := $(patsubst %,$(OUTPUT)/%.bpf.o,$(BPF_PROGS))
SKELS := $(patsubst %,$(OUTPUT)/%.skel.h,$(BPF_PROGS))

# Everything in src/ but main.c goes into a library the tests link too.
LIB_SRCS := $(filter-out src/main.c,$(wildcard src/*.c))
LIB_OBJS := $(patsubst src/%.c,$(OUTPUT)/obj/%.o,$(LIB_SRCS))

UNIT_TESTS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(wildcard tests/unit/test_*.c))
BPF_TESTS := $(patsubst tests/bpf/%.c,$(OUTPUT)/tests/%,$(wildcard tests/bpf/test_*.c))
TOOLS := $(patsubst tests/tools/%.c,$(OUTPUT)/tools/%,$(wildcard tests/tools/*.c))

ifeq ($(V),1)
	Q =
	msg =
else
	Q = @
	msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
# The object and skeleton are made by pattern rules but are products, not
# intermediates: the BPF tests include the skeleton after `all` is built.
.SECONDARY: $(BPF_OBJS) $(SKELS) $(OUTPUT)/vmlinux.h
.PHONY: all clean test unit-tests bpf-tests tools bench format check-format install

all: $(OUTPUT)/berth

$(OUTPUT) $(OUTPUT)/obj $(OUTPUT)/tests $(OUTPUT)/tools:
	$(Q)mkdir -p $@

$(OUTPUT)/vmlinux.h: | $(OUTPUT)
	$(call msg,GEN,$@)
	$(Q)test -r $(VMLINUX_BTF) || { echo "error: $(VMLINUX_BTF) not readable: berth needs a kernel with CONFIG_DEBUG_INFO_BTF=y" >&2; exit 1; }
	$(Q)$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.bpf.h) include/berth.h $(OUTPUT)/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@

$(OUTPUT)/obj/%.o: src/%.c $(wildcard src/*.h) include/berth.h $(SKELS) | $(OUTPUT)/obj
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(OUTPUT)/libberth.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)$(AR) rcs $@ $^

$(OUTPUT)/berth: $(OUTPUT)/obj/main.o $(OUTPUT)/libberth.a
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ $(LDLIBS) -o $@

$(OUTPUT)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(OUTPUT)/libberth.a | $(OUTPUT)/tests
	$(call msg,TEST,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $< $(OUTPUT)/libberth.a $(LDLIBS) -lcmocka -o $@

$(OUTPUT)/tests/%: tests/bpf/%.c $(OUTPUT)/libberth.a $(SKELS) | $(OUTPUT)/tests
	$(call msg,TEST,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $< $(OUTPUT)/libberth.a $(LDLIBS) -lcmocka -o $@

$(OUTPUT)/tools/%: tests/tools/%.c | $(OUTPUT)/tools
	$(call msg,TOOL,$@)
	$(Q)$(CC) -std=gnu11 $(WARNINGS) -O2 -g $< -o $@ -lpthread

# The outputs benchmark drives berth's own output code.
$(OUTPUT)/tools/bench_outputs: tests/tools/bench_outputs.c $(OUTPUT)/libberth.a | $(OUTPUT)/tools
	$(call msg,TOOL,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $< $(OUTPUT)/libberth.a $(LDLIBS) -o $@

# udpecho runs inside the busybox test image, which has no libc.
$(OUTPUT)/tools/udpecho: tests/tools/udpecho.c | $(OUTPUT)/tools
	$(call msg,TOOL,$@)
	$(Q)$(CC) -std=gnu11 $(WARNINGS) -O2 -static $< -o $@

unit-tests: $(UNIT_TESTS)
bpf-tests: $(BPF_TESTS)
tools: $(TOOLS)

# Builds what the suite needs, then runs every test (unit, BPF, end-to-end).
test: all unit-tests bpf-tests tools
	$(Q)BERTH_BUILD=$(abspath $(OUTPUT)) tests/run $(T)

bench: all tools
	$(Q)BERTH_BUILD=$(abspath $(OUTPUT)) scripts/bench

format:
	$(Q)clang-format -i bpf/*.c bpf/*.h include/*.h src/*.c src/*.h tests/*/*.c tests/unit/*.h

check-format:
	$(Q)clang-format --dry-run --Werror bpf/*.c bpf/*.h include/*.h src/*.c src/*.h tests/*/*.c tests/unit/*.h

install: $(OUTPUT)/berth
	install -D -m 0755 $(OUTPUT)/berth $(DESTDIR)/usr/local/sbin/berth
	install -D -m 0644 docs/berth.8 $(DESTDIR)/usr/local/share/man/man8/berth.8

clean:
	$(call msg,CLEAN)
	$(Q)rm -rf $(OUTPUT)

# ------------------------------------------------------------------- fuzzing
# libFuzzer targets, one per parser of outside input (fuzz/*.c, seeds in
# fuzz/corpus/<target>/; see docs/fuzzing.md). The library is compiled again
# into build/fuzz-obj with the sanitizers and libFuzzer's coverage hooks
# (fuzzer-no-link: libFuzzer's main comes in only with each target).
FUZZ_TARGETS := $(patsubst fuzz/%.c,$(OUTPUT)/fuzz/%,$(wildcard fuzz/fuzz_*.c))
FUZZ_OBJS := $(patsubst src/%.c,$(OUTPUT)/fuzz-obj/%.o,$(LIB_SRCS))
FUZZ_CFLAGS := $(filter-out -O2,$(ALL_CFLAGS)) -O1 -fno-omit-frame-pointer \
	-fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_PROBE := int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }
.PHONY: fuzz fuzz-if-available fuzz-long format-fuzz check-format-fuzz

$(OUTPUT)/fuzz-obj $(OUTPUT)/fuzz:
	$(Q)mkdir -p $@

$(OUTPUT)/fuzz-obj/%.o: src/%.c $(wildcard src/*.h) include/berth.h $(SKELS) | $(OUTPUT)/fuzz-obj
	$(call msg,FUZZ-CC,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(OUTPUT)/libberth-fuzz.a: $(FUZZ_OBJS)
	$(call msg,AR,$@)
	$(Q)$(AR) rcs $@ $^

$(OUTPUT)/fuzz/%: fuzz/%.c $(OUTPUT)/libberth-fuzz.a | $(OUTPUT)/fuzz
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(OUTPUT)/libberth-fuzz.a $(LDLIBS) -o $@

fuzz: $(FUZZ_TARGETS)

# `make test` builds the targets when clang can link libFuzzer; when it
# cannot, tests/run skips them (scripts/install-deps installs the runtime).
fuzz-if-available: all
	$(Q)probe=$$(mktemp); \
	if echo '$(FUZZ_PROBE)' | $(CLANG) -x c -fsanitize=fuzzer - -o "$$probe" 2>/dev/null; then \
		rm -f "$$probe"; $(MAKE) --no-print-directory fuzz; \
	else \
		rm -f "$$probe"; echo "  SKIP     fuzz targets: $(CLANG) cannot link -fsanitize=fuzzer (scripts/install-deps installs libclang-rt-14-dev)"; \
	fi
test: fuzz-if-available

# Longer runs, FUZZ_SECONDS per target (default 300), corpora kept in build/.
fuzz-long: fuzz
	$(Q)scripts/fuzz all $(or $(FUZZ_SECONDS),300)

format: format-fuzz
check-format: check-format-fuzz
format-fuzz:
	$(Q)clang-format -i fuzz/*.c
check-format-fuzz:
	$(Q)clang-format --dry-run --Werror fuzz/*.c
