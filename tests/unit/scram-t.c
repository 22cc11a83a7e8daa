/*
 * scram-t.c: SCRAM-SHA-256 (auth/scram.c): the test vector of RFC 7677
 * section 3, the parsers of the client's messages, the secrets-file
 * format, and the lookup that makes unknown users look like known ones.
 * Runs as: the test, as any user.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "auth/auth.h"
#include "tests/tap/tap.h"

#define C1	"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define S1	"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," \
		"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define NONCE	"rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define C2	"c=biws,r=" NONCE \
		",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define V	"6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static struct scram_secret sec;
static struct scram_client cl;

static void
test_vector(void)
{
	unsigned char proof[SCRAM_KEY_LEN], sig[SCRAM_KEY_LEN];
	char am[1024], b64[64];
	size_t wp = 0, n;

	ok(sodium_base642bin(sec.salt, sizeof(sec.salt),
	    "W22ZaJ0SNY7soEsUEjb6gQ==", 24, NULL, &sec.saltlen, NULL,
	    sodium_base64_VARIANT_ORIGINAL) == 0, "the vector's salt decodes");
	sec.iters = 4096;
	scram_keys("pencil", 6, sec.salt, sec.saltlen, 4096, sec.stored,
	    sec.server);
	ok(scram_client_first(C1, &cl) == 0, "client-first parses");
	is_str(cl.user, "user", "the user");
	is_str(cl.cnonce, "rOprNGfwEbeRWgbNEkqO", "the client nonce");
	is_str(cl.gs2, "n,,", "the gs2 header");
	is_str(cl.bare, "n=user,r=rOprNGfwEbeRWgbNEkqO", "the bare message");
	ok(scram_client_final(C2, &cl, NONCE, &wp, proof) == 0,
	    "client-final parses");
	n = (size_t)snprintf(am, sizeof(am), "%s,%s,%.*s", cl.bare, S1,
	    (int)wp, C2);
	ok(scram_verify(&sec, am, n, proof, sig),
	    "RFC 7677's proof is accepted");
	(void)sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig),
	    sodium_base64_VARIANT_ORIGINAL);
	is_str(b64, V, "the server signature is RFC 7677's");
	memset(sig, 0, sizeof(sig));
	scram_client_proof("pencil", 6, sec.salt, sec.saltlen, 4096, am, n,
	    proof);
	ok(scram_verify(&sec, am, n, proof, sig), "scram_client_proof agrees");
	scram_client_proof("pencil!", 7, sec.salt, sec.saltlen, 4096, am, n,
	    proof);
	ok(!scram_verify(&sec, am, n, proof, sig), "a wrong password fails");
	scram_client_proof("pencil", 6, sec.salt, sec.saltlen, 4096, am, n,
	    proof);
	am[n - 1] ^= 1;
	ok(!scram_verify(&sec, am, n, proof, sig),
	    "a changed AuthMessage fails");
}

static void
test_parsers(void)
{
	unsigned char proof[SCRAM_KEY_LEN];
	size_t wp;

	ok(scram_client_first("y,,n=user,r=abc", &cl) == 0,
	    "y: the client could bind, we do not");
	ok(scram_client_first("p=tls-unique,,n=user,r=abc", &cl) == -1,
	    "channel binding is refused");
	ok(scram_client_first("n,a=user,n=user,r=abc", &cl) == 0,
	    "an authzid equal to the user");
	errno = 0;
	ok(scram_client_first("n,a=root,n=user,r=abc", &cl) == -1 &&
	    errno == EPERM, "another authzid is EPERM");
	ok(scram_client_first("n,,n=a=2Cb=3Dc,r=abc", &cl) == 0 &&
	    strcmp(cl.user, "a,b=c") == 0, "=2C and =3D are decoded");
	ok(scram_client_first("n,,n=a=2Xb,r=abc", &cl) == -1,
	    "an unknown escape is refused");
	ok(scram_client_first("n,,n=a=2,r=abc", &cl) == -1,
	    "a cut escape is refused");
	ok(scram_client_first("n,,n=,r=abc", &cl) == -1,
	    "an empty user is refused");
	ok(scram_client_first("n,,n=user,r=", &cl) == -1,
	    "an empty nonce is refused");
	ok(scram_client_first("n,,n=user", &cl) == -1,
	    "a missing nonce is refused");
	ok(scram_client_first("n,,n=user,r=abc,m=ext", &cl) == -1,
	    "a mandatory extension is refused");
	ok(scram_client_first("n,,r=abc,n=user", &cl) == -1,
	    "the attributes in the wrong order are refused");
	ok(scram_client_first("n,a=user", &cl) == -1,
	    "an authzid with nothing after it is refused");
	ok(scram_client_first("n,x,n=user,r=abc", &cl) == -1,
	    "a gs2 header with something else than an authzid is refused");
	ok(scram_client_first("n,,n=user,s=abc", &cl) == -1,
	    "another attribute than the nonce after the user is refused");
	ok(scram_client_first("", &cl) == -1, "an empty message is refused");
	ok(scram_client_first("n", &cl) == -1, "a gs2 flag alone is refused");
	(void)scram_client_first(C1, &cl);
	ok(scram_client_final("c=eSws,r=" NONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9"
	    "zjfMHgsqmmiz7AndVQ=", &cl, NONCE, &wp, proof) == -1,
	    "a channel-binding field that differs from the gs2 header");
	ok(scram_client_final("c=biws,r=" NONCE "x,p=dHzbZapWIk4jUhN+Ute9ytag"
	    "9zjfMHgsqmmiz7AndVQ=", &cl, NONCE, &wp, proof) == -1,
	    "a nonce that differs");
	ok(scram_client_final("c=biws,r=" NONCE, &cl, NONCE, &wp, proof) ==
	    -1, "a missing proof");
	ok(scram_client_final("c=biws,r=" NONCE ",p=AAAA", &cl, NONCE, &wp,
	    proof) == -1, "a proof of the wrong length");
	ok(scram_client_final("c=biws,r=" NONCE ",p=***", &cl, NONCE, &wp,
	    proof) == -1, "a proof that is not base64");
	/* libsodium 1.0.18 alone reads an octet 0x80-0xFF as '/'. */
	ok(scram_client_final("c=biws,r=" NONCE ",p=dHzbZapWIk4jUhN\xff"
	    "Ute9ytag9zjfMHgsqmmiz7AndVQ=", &cl, NONCE, &wp, proof) == -1,
	    "a proof with an octet 0xFF in its base64 is refused");
}

static void
test_format(void)
{
	struct scram_secret a;
	unsigned char stored[SCRAM_KEY_LEN], server[SCRAM_KEY_LEN];
	char v[256], huge[2048];

	ok(scram_format("hunter2", 7, SCRAM_ITERS_DEFAULT, v, sizeof(v)) ==
	    0 && scram_parse(v, &a) == 0, "a new entry parses");
	scram_keys("hunter2", 7, a.salt, a.saltlen, a.iters, stored, server);
	ok(a.iters == SCRAM_ITERS_DEFAULT && a.saltlen == SCRAM_SALT_LEN &&
	    memcmp(stored, a.stored, sizeof(stored)) == 0 &&
	    memcmp(server, a.server, sizeof(server)) == 0,
	    "and holds the keys of its password");
	ok(strstr(v, "hunter2") == NULL, "but not the password");
	ok(scram_parse("4095:W22ZaJ0SNY7soEsUEjb6gQ==:"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", &a) == -1,
	    "fewer than 4096 iterations are refused");
	ok(scram_parse("4096:W22ZaJ0SNY7soEsUEjb6gQ==:"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", &a) == 0,
	    "4096 iterations are fine");
	ok(scram_parse("4096:W22ZaJ0SNY7soEsUEjb6gQ==:"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", &a) == -1,
	    "three fields are refused");
	ok(scram_parse("4096:W22ZaJ0SNY7soEsUEjb6gQ==:"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:x", &a) == -1,
	    "five fields are refused");
	ok(scram_parse("4096:W22ZaJ0SNY7soEsUEjb6gQ==:AAAA:"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", &a) == -1,
	    "a short key is refused");
	ok(scram_parse("04096:W22ZaJ0SNY7soEsUEjb6gQ==:"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", &a) == -1,
	    "a count with a leading zero is refused");
	memset(huge, 'A', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	memcpy(huge, "4096:", 5);
	ok(scram_parse(huge, &a) == -1, "a value of 2047 octets is refused");
}

static void
test_lookup(void)
{
	struct auth_config cf;
	struct auth_outcome out;
	struct scram_secret a, b;
	char path[512], v[256], line[600];
	unsigned char proof[SCRAM_KEY_LEN], sig[SCRAM_KEY_LEN];
	FILE *f;

	(void)snprintf(path, sizeof(path), "%s/secrets", tap_tmpdir());
	if (scram_format("pencil", 6, 4096, v, sizeof(v)) == -1 ||
	    (f = fopen(path, "w")) == NULL)
		bail("cannot make the secrets file");
	(void)fprintf(f, "sue:{SCRAM-SHA-256}%s\nbob:{PLAIN}secret\n", v);
	(void)fclose(f);
	(void)chmod(path, 0600);
	memset(&cf, 0, sizeof(cf));
	cf.methods[0] = AUTH_SECRETS;
	cf.nmethods = 1;
	cf.secrets = path;
	cf.root = false;

	ok(auth_scram_lookup(&cf, "sue", &a, &out) == AUTH_OK && out.known,
	    "a {SCRAM-SHA-256} user is known and has a secret");
	(void)snprintf(line, sizeof(line), "proof for sue");
	scram_client_proof("pencil", 6, a.salt, a.saltlen, a.iters, line,
	    strlen(line), proof);
	ok(scram_verify(&a, line, strlen(line), proof, sig),
	    "and her password's proof is accepted");
	ok(auth_scram_lookup(&cf, "bob", &a, &out) == AUTH_OK && out.known,
	    "a {PLAIN} user gets keys made from the password");
	scram_client_proof("secret", 6, a.salt, a.saltlen, a.iters, line,
	    strlen(line), proof);
	ok(scram_verify(&a, line, strlen(line), proof, sig),
	    "and his password's proof is accepted");
	ok(auth_scram_lookup(&cf, "zed", &a, &out) == AUTH_FAIL &&
	    !out.known, "an unknown user gets a made-up secret");
	ok(a.saltlen == SCRAM_SALT_LEN && a.iters == SCRAM_ITERS_DEFAULT,
	    "shaped like a real one");
	ok(auth_scram_lookup(&cf, "zed", &b, &out) == AUTH_FAIL &&
	    memcmp(a.salt, b.salt, a.saltlen) == 0,
	    "with the same salt every time");
	ok(auth_scram_lookup(&cf, "zoe", &b, &out) == AUTH_FAIL &&
	    memcmp(a.salt, b.salt, a.saltlen) != 0,
	    "and a different one for another name");
	scram_client_proof("anything", 8, a.salt, a.saltlen, a.iters, line,
	    strlen(line), proof);
	ok(!scram_verify(&a, line, strlen(line), proof, sig),
	    "which no proof matches");
	cf.secrets = "/nonexistent/secrets";
	ok(auth_scram_lookup(&cf, "sue", &a, &out) == AUTH_TEMP,
	    "an unusable secrets file is AUTH_TEMP");
}

int
main(void)
{
	plan(55);
	if (sodium_init() < 0)
		bail("sodium_init");
	test_vector();
	test_parsers();
	test_format();
	test_lookup();
	return done();
}
