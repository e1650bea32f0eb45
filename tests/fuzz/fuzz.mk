# fuzz.mk - build the libFuzzer harnesses with clang, apart from the
# normal (gcc) build.
#
#   make -f tests/fuzz/fuzz.mk top_srcdir=SRC top_builddir=BUILD
#
# Every library source is compiled again with clang, coverage
# instrumentation, ASan and UBSan into $(top_builddir)/tests/work/fuzz/obj
# (so nothing of the autotools build is touched), and each harness
# tests/fuzz/fuzz_NAME.c is linked with -fsanitize=fuzzer into
# $(top_builddir)/tests/work/fuzz/bin/fuzz_NAME.  config.h comes from the
# configured build tree.  Rebuilds only what changed (-MMD dependencies).

top_srcdir ?= .
top_builddir ?= $(top_srcdir)
FUZZ_CC ?= clang
OUT := $(top_builddir)/tests/work/fuzz
OBJ := $(OUT)/obj
BIN := $(OUT)/bin

SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
CFLAGS_FUZZ := -std=c11 -g -O1 -fno-omit-frame-pointer $(SAN) \
	-I$(top_builddir) -I$(top_srcdir)/mime -I$(top_srcdir)/crypto \
	-I$(top_srcdir)/milter -DSYSCONFDIR='"/etc"' \
	$(shell pkg-config --cflags gnutls p11-kit-1)
# Nettle for everyone: libsmcrypto's recipient cache prepares EC points
# with it, and any harness linking crypto/ may pull that object in.
NETTLE_FUZZ := $(shell pkg-config --libs hogweed nettle) -lgmp
LIBS_FUZZ := $(shell pkg-config --libs gnutls p11-kit-1) $(NETTLE_FUZZ) -lcdb -llmdb -lpthread

# Each module becomes an archive, so a harness pulls in only what it
# uses.  milter/: the sources of libcore (everything but the programs).
MIME_SRC := $(notdir $(wildcard $(top_srcdir)/mime/*.c))
CRYPTO_SRC := $(notdir $(wildcard $(top_srcdir)/crypto/*.c))
CORE_SRC := $(filter-out main.c callbacks.c testmode.c keystore_tool.c \
	keystore_source.c keystore_cred.c certstore_tool.c, \
	$(notdir $(wildcard $(top_srcdir)/milter/*.c)))
LIBMIME := $(OBJ)/libmime.a
LIBCRYPTO := $(OBJ)/libcrypto.a
LIBCORE := $(OBJ)/libcore.a

HARNESSES := mime cms config keystore rfc5322 canon testmode envelope
all: $(addprefix $(BIN)/fuzz_,$(HARNESSES)) $(BIN)/seedcms

# Library objects: coverage for the fuzzer, no libFuzzer main.
$(OBJ)/%.o: $(top_srcdir)/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CFLAGS_FUZZ) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(LIBMIME): $(addprefix $(OBJ)/mime/,$(MIME_SRC:.c=.o))
	rm -f $@ && ar rcs $@ $^
$(LIBCRYPTO): $(addprefix $(OBJ)/crypto/,$(CRYPTO_SRC:.c=.o))
	rm -f $@ && ar rcs $@ $^
$(LIBCORE): $(addprefix $(OBJ)/milter/,$(CORE_SRC:.c=.o))
	rm -f $@ && ar rcs $@ $^

LINK = @mkdir -p $(BIN); \
	$(FUZZ_CC) $(SAN) -fsanitize=fuzzer -o $@ $^ $(LIBS_FUZZ)

$(BIN)/fuzz_mime: $(OBJ)/tests/fuzz/fuzz_mime.o $(LIBMIME)
	$(LINK)
$(BIN)/fuzz_rfc5322: $(OBJ)/tests/fuzz/fuzz_rfc5322.o $(LIBMIME)
	$(LINK)
$(BIN)/fuzz_canon: $(OBJ)/tests/fuzz/fuzz_canon.o $(LIBMIME)
	$(LINK)
$(BIN)/fuzz_cms: $(OBJ)/tests/fuzz/fuzz_cms.o $(LIBCRYPTO)
	$(LINK)
$(BIN)/fuzz_keystore: $(OBJ)/tests/fuzz/fuzz_keystore.o $(LIBCRYPTO)
	$(LINK)
$(BIN)/fuzz_envelope: $(OBJ)/tests/fuzz/fuzz_envelope.o $(LIBCRYPTO)
	$(LINK)
$(BIN)/fuzz_config: $(OBJ)/tests/fuzz/fuzz_config.o $(LIBCORE) \
		$(LIBCRYPTO) $(LIBMIME)
	$(LINK)
$(BIN)/fuzz_testmode: $(OBJ)/tests/fuzz/fuzz_testmode.o \
		$(OBJ)/milter/testmode.o $(LIBCORE) $(LIBCRYPTO) $(LIBMIME)
	$(LINK)

# seedcms: not a fuzzer; cuts CMS seeds for fuzz_cms out of messages.
$(BIN)/seedcms: $(OBJ)/tests/fuzz/seedcms.o $(LIBMIME)
	@mkdir -p $(BIN)
	$(FUZZ_CC) $(SAN) -fsanitize=fuzzer-no-link -o $@ $^ $(LIBS_FUZZ)

.PHONY: all
.DELETE_ON_ERROR:
-include $(shell find $(OBJ) -name '*.d' 2>/dev/null)
