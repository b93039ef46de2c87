/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A PKI made in memory for unit tests that speak TLS: a CA, a server
 * certificate for 127.0.0.1 and localhost, a client certificate, and a
 * rogue CA of the same name, as PEM files in a directory. Include after
 * cmocka.h.
 */
#ifndef BERTH_TESTS_PKI_H
#define BERTH_TESTS_PKI_H

#include <stdio.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

struct pki {
	EVP_PKEY *ca_key, *server_key, *client_key, *rogue_key;
	X509 *ca, *server, *client, *rogue_ca;
	char ca_path[128], rogue_ca_path[128], client_cert_path[128], client_key_path[128];
	char server_cert_path[128], server_key_path[128];
};

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(cert, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

/* A certificate for key named cn, signed by issuer (itself when NULL). */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
		       const char *san, const char *usage)
{
	static long serial = 1;
	X509 *cert = X509_new();

	assert_non_null(cert);
	X509_set_version(cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), serial++);
	X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
	X509_set_pubkey(cert, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(cert, X509_get_subject_name(issuer ? issuer : cert));
	add_ext(cert, issuer ? issuer : cert, NID_subject_key_identifier, "hash");
	if (!issuer) {
		add_ext(cert, cert, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		add_ext(cert, issuer, NID_basic_constraints, "CA:FALSE");
		add_ext(cert, issuer, NID_authority_key_identifier, "keyid");
		add_ext(cert, issuer, NID_ext_key_usage, usage);
		if (san)
			add_ext(cert, issuer, NID_subject_alt_name, san);
	}
	assert_true(X509_sign(cert, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
	return cert;
}

static void write_pem(const char *path, X509 *cert, EVP_PKEY *key)
{
	FILE *f = fopen(path, "we");

	assert_non_null(f);
	if (cert)
		assert_int_equal(PEM_write_X509(f, cert), 1);
	if (key)
		assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
}

static void make_pki(struct pki *p, const char *dir)
{
	p->ca_key = EVP_EC_gen("P-256");
	p->server_key = EVP_EC_gen("P-256");
	p->client_key = EVP_EC_gen("P-256");
	p->rogue_key = EVP_EC_gen("P-256");
	assert_non_null(p->ca_key);
	p->ca = make_cert(p->ca_key, "berth test CA", NULL, NULL, NULL, NULL);
	p->rogue_ca = make_cert(p->rogue_key, "berth test CA", NULL, NULL, NULL, NULL);
	p->server = make_cert(p->server_key, "localhost", p->ca, p->ca_key,
			      "IP:127.0.0.1,DNS:localhost", "serverAuth");
	p->client = make_cert(p->client_key, "berth-client", p->ca, p->ca_key, NULL, "clientAuth");
	snprintf(p->ca_path, sizeof(p->ca_path), "%s/ca.pem", dir);
	snprintf(p->rogue_ca_path, sizeof(p->rogue_ca_path), "%s/rogue-ca.pem", dir);
	snprintf(p->client_cert_path, sizeof(p->client_cert_path), "%s/client.pem", dir);
	snprintf(p->client_key_path, sizeof(p->client_key_path), "%s/client.key", dir);
	snprintf(p->server_cert_path, sizeof(p->server_cert_path), "%s/server.pem", dir);
	snprintf(p->server_key_path, sizeof(p->server_key_path), "%s/server.key", dir);
	write_pem(p->ca_path, p->ca, NULL);
	write_pem(p->server_cert_path, p->server, NULL);
	write_pem(p->server_key_path, NULL, p->server_key);
	write_pem(p->rogue_ca_path, p->rogue_ca, NULL);
	write_pem(p->client_cert_path, p->client, NULL);
	write_pem(p->client_key_path, NULL, p->client_key);
}

static void free_pki(struct pki *p)
{
	X509_free(p->ca);
	X509_free(p->rogue_ca);
	X509_free(p->server);
	X509_free(p->client);
	EVP_PKEY_free(p->ca_key);
	EVP_PKEY_free(p->server_key);
	EVP_PKEY_free(p->client_key);
	EVP_PKEY_free(p->rogue_key);
}

#endif
