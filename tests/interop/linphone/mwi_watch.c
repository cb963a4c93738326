/*
 * mwi_watch: subscribes to a mailbox's message summary (RFC 3842) with liblinphone's generic
 * event API and prints the body of each NOTIFY it receives, one line per NOTIFY.
 *
 * This is a test client for tests/it/mwi.rs. The client under test is liblinphone's SIP stack
 * (belle-sip: the SUBSCRIBE, the subscription dialog, the digest answer, the NOTIFY handling);
 * this program only starts it and prints what it hands over. Debian's linphonec has no MWI
 * command, so this is how linphone is driven as a phone waiting for its lamp.
 *
 * Usage: mwi_watch RESOURCE FROM BIND USERNAME PASSWORD ALGORITHM NOTIFIES SECONDS
 *   RESOURCE   the Request-URI subscribed to, e.g. sip:1001@127.0.0.1:5060
 *   FROM       the subscriber's identity (From), e.g. sip:alice@example.test
 *   BIND       the local address SIP binds to (a random port is taken)
 *   USERNAME, PASSWORD   the digest credentials
 *   ALGORITHM  MD5 or SHA-256: the only digest algorithm the credentials answer
 *   NOTIFIES   exit after this many NOTIFYs
 *   SECONDS    or after this long, whichever comes first
 * Output (stdout): "NOTIFY <body>" per NOTIFY, the body's line breaks written as " | ";
 * "STATE <state> <reason>" per subscription state change, as liblinphone names them. Exits
 * once NOTIFIES were received (status 0), or when the subscription ended or failed or time ran
 * out (status 1). liblinphone's own log goes to stderr.
 */
#include <linphone/core.h>
#include <linphone/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static FILE *out;
static int received;
static int ended;

static void on_notify(LinphoneCore *core, LinphoneEvent *event, const char *package,
		const LinphoneContent *body) {
	(void)core;
	(void)event;
	(void)package;
	const char *text = body ? linphone_content_get_utf8_text(body) : NULL;
	fputs("NOTIFY ", out);
	/* One line per NOTIFY, so the test can read the output line by line. */
	for (const char *c = text ? text : ""; *c; c++) {
		if (*c == '\r')
			continue;
		if (*c == '\n')
			fputs(c[1] ? " | " : "", out);
		else
			fputc(*c, out);
	}
	fputc('\n', out);
	/* The test reads the output while this runs. */
	fflush(out);
	received++;
}

static void on_state(LinphoneCore *core, LinphoneEvent *event, LinphoneSubscriptionState state) {
	(void)core;
	fprintf(out, "STATE %s %s\n", linphone_subscription_state_to_string(state),
			linphone_reason_to_string(linphone_event_get_reason(event)));
	fflush(out);
	/* Nothing more arrives on a subscription that ended or failed. */
	if (state == LinphoneSubscriptionTerminated || state == LinphoneSubscriptionError)
		ended = 1;
}

int main(int argc, char **argv) {
	if (argc != 9) {
		fprintf(stderr, "usage: %s RESOURCE FROM BIND USERNAME PASSWORD ALGORITHM NOTIFIES SECONDS\n",
				argv[0]);
		return 2;
	}
	const char *resource = argv[1], *from = argv[2], *bind = argv[3];
	const char *username = argv[4], *password = argv[5], *algorithm = argv[6];
	int wanted = atoi(argv[7]);
	time_t deadline = time(NULL) + atoi(argv[8]);

	/* liblinphone's default log handler writes to stdout, where only our lines belong. */
	out = fdopen(dup(STDOUT_FILENO), "w");
	if (!out || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
		perror("mwi_watch: stdout");
		return 2;
	}
	linphone_logging_service_set_log_level(linphone_logging_service_get(), LinphoneLogLevelWarning);
	LinphoneFactory *factory = linphone_factory_get();
	/* No config file: nothing of a previous run is read back, nothing is written. */
	LinphoneConfig *config = linphone_config_new(NULL);
	/* The source address decides whether umbox sees a gateway or a phone. */
	linphone_config_set_string(config, "sip", "bind_address", bind);
	LinphoneCore *core = linphone_factory_create_core_with_config_3(factory, config, NULL);
	/* No sound card is needed to watch a lamp, and a test machine may have none. */
	linphone_core_set_use_files(core, TRUE);
	LinphoneTransports *transports = linphone_factory_create_transports(factory);
	linphone_transports_set_udp_port(transports, LC_SIP_TRANSPORT_RANDOM);
	linphone_transports_set_tcp_port(transports, LC_SIP_TRANSPORT_DISABLED);
	linphone_transports_set_tls_port(transports, LC_SIP_TRANSPORT_DISABLED);
	linphone_core_set_transports(core, transports);
	linphone_core_set_primary_contact(core, from);

	LinphoneCoreCbs *callbacks = linphone_factory_create_core_cbs(factory);
	linphone_core_cbs_set_notify_received(callbacks, on_notify);
	linphone_core_cbs_set_subscription_state_changed(callbacks, on_state);
	linphone_core_add_callbacks(core, callbacks);

	/* Realm and domain left open: the credentials answer whatever realm umbox names, but
	 * only with ALGORITHM (liblinphone leaves a challenge of another algorithm unanswered). */
	LinphoneAuthInfo *auth = linphone_factory_create_auth_info_2(factory, username, NULL, password,
			NULL, NULL, NULL, algorithm);
	linphone_core_add_auth_info(core, auth);
	linphone_core_start(core);

	LinphoneAddress *target = linphone_factory_create_address(factory, resource);
	if (!target) {
		fprintf(stderr, "mwi_watch: %s is no SIP address\n", resource);
		return 2;
	}
	LinphoneEvent *event = linphone_core_create_subscribe(core, target, "message-summary", 600);
	/* RFC 3842 §4.1: a subscriber says which body it reads. */
	linphone_event_add_custom_header(event, "Accept", "application/simple-message-summary");
	linphone_event_send_subscribe(event, NULL);

	while (received < wanted && !ended && time(NULL) < deadline) {
		linphone_core_iterate(core);
		usleep(20000);
	}
	return received >= wanted ? 0 : 1;
}
