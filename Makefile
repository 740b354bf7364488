# mmfs top-level Makefile.
#
#   make            build bin/mmfsd and every bin/mm* command
#   make check      lint, unit + integration tests, ASan/UBSan and TSan runs, short fuzz runs
#   make check-long 12 crash rounds (make check runs 2), a million-entry directory, beyond make check's time
#   make deps       apt-get what is missing (Debian)
#   make bench      every benchmark under bench/
#   make install    PREFIX=/usr/local
#   make clean
#
# O= selects the object directory, so sanitizer builds live beside the
# normal one (build/asan, build/tsan, build/fuzz) and never mix objects.

CC       ?= gcc
O        ?= build
BINDIR   ?= bin
PREFIX   ?= /usr/local
OPT      ?= -O2
SANFLAGS ?=
# DEBUG=1 turns on MM_ASSERT (common/bug.h), as the sanitizer builds do
ifeq ($(DEBUG),1)
SANFLAGS += -DMM_DEBUG
endif

CFLAGS   = -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers -Wno-format-truncation \
           $(OPT) -g -D_GNU_SOURCE -I. -MMD -MP -fno-strict-aliasing -pthread $(SANFLAGS)
ifneq ($(findstring clang,$(CC)),)
CFLAGS  += -Wno-unknown-warning-option
endif
# libfuse3 (the FUSE front end, mmfsd/fe*.c): tools/deps installs libfuse3-dev
FUSE_CFLAGS := $(shell pkg-config --cflags fuse3 2>/dev/null || echo -I/usr/include/fuse3)
CFLAGS  += $(FUSE_CFLAGS)
LDFLAGS  = -pthread $(SANFLAGS)
LDLIBS   = -laio -lssl -lcrypto -lconfig -lcurl -ljson-c -lfuse3 -lm

LIB_DIRS = common config net cluster nsd pagepool tokens fs mmfsd
LIB_SRCS = $(filter-out mmfsd/main.c,$(wildcard $(addsuffix /*.c,$(LIB_DIRS)))) \
           $(wildcard cmds/lib*.c)
LIB_OBJS = $(LIB_SRCS:%.c=$(O)/%.o)
LIB      = $(O)/libmmfs.a

CMD_SRCS = $(wildcard cmds/mm*.c)
CMDS     = $(CMD_SRCS:cmds/%.c=$(BINDIR)/%)
BINS     = $(BINDIR)/mmfsd $(CMDS)

UNIT_SRCS = $(wildcard tests/unit/test_*.c)
UNIT_BINS = $(UNIT_SRCS:tests/unit/%.c=$(O)/tests/%)
# faultshim.c is an LD_PRELOAD library (tests/tools/README.md), not a program
TOOL_SRCS = $(filter-out tests/tools/faultshim.c,$(wildcard tests/tools/*.c))
TOOL_BINS = $(TOOL_SRCS:tests/tools/%.c=$(O)/tools/%) $(O)/tools/faultshim.so
BENCH_SRCS = $(wildcard bench/*.c)
BENCH_BINS = $(BENCH_SRCS:bench/%.c=$(O)/bench/%)

.PHONY: all check check-long unit integration asan tsan fuzz deps bench install clean tests
# objects reached through chained pattern rules are not throw-away intermediates
.SECONDARY:

all: $(BINS) $(TOOL_BINS) $(BENCH_BINS)

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BINDIR)/mmfsd: $(O)/mmfsd/main.o $(LIB)
	@mkdir -p $(BINDIR)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BINDIR)/mm%: $(O)/cmds/mm%.o $(LIB)
	@mkdir -p $(BINDIR)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/tests/test_%: $(O)/tests/unit/test_%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcunit

# test_common makes the wall clock jump under timed waits (--wrap)
$(O)/tests/test_common: LDFLAGS += -Wl,--wrap=clock_gettime

$(O)/tools/%: $(O)/tests/tools/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# preloaded into uninstrumented programs: built without the sanitizers
$(O)/tools/faultshim.so: tests/tools/faultshim.c
	@mkdir -p $(dir $@)
	$(CC) $(filter-out $(SANFLAGS),$(CFLAGS)) -fPIC -shared -o $@ $< -ldl

$(O)/bench/%: $(O)/bench/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# the null FUSE file system, bench fs's baseline (libfuse3-dev: tools/deps)
$(O)/bench/nullfs: LDLIBS += -lfuse3

tests: $(UNIT_BINS) $(TOOL_BINS)

# The whole suite; tests/check prints one closing "N passed, N failed" line.
check: deps
	$(MAKE) all tests
	tests/check

# longer than make check's budget: many crash rounds, a million entries
# in one directory (the dir module alone, then through the mount)
check-long: deps
	$(MAKE) all tests
	FSCRASH_ROUNDS=12 FSCRASH_STRICT=1 bash tests/integration/fscrash.sh
	FS_DIR_BIG=1000000 build/tests/test_fs_dir
	bash tests/long/bigdir.sh

unit: tests
	tests/check unit

integration: all tests
	tests/check integration

# Sanitizer builds of the unit tests (and the daemon, for the integration
# smoke test under ASan). Called by tests/check.
asan:
	$(MAKE) O=build/asan BINDIR=build/asan/bin OPT=-O1 \
	  SANFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -DMM_DEBUG" \
	  all tests

tsan:
	$(MAKE) O=build/tsan BINDIR=build/tsan/bin OPT=-O1 SANFLAGS="-fsanitize=thread -DMM_DEBUG" tests

FUZZ_SRCS = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS = $(FUZZ_SRCS:tests/fuzz/%.c=build/fuzz/%)
fuzz:
	$(MAKE) CC=clang O=build/fuzz BINDIR=build/fuzz/bin OPT=-O1 \
	  SANFLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -DMM_DEBUG" \
	  build/fuzz/libmmfs.a $(FUZZ_BINS)

build/fuzz/fuzz_%: build/fuzz/tests/fuzz/fuzz_%.o build/fuzz/libmmfs.a
	$(CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS)

deps:
	tools/deps

bench: all
	bench/run

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/

clean:
	rm -rf build bin

-include $(shell find $(O) -name '*.d' 2>/dev/null)
