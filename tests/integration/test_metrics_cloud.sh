#!/usr/bin/env bash
# The cloud queues, against emulators from the npm registry installed by `make deps` into
# tests/npm (nothing leaves the machine): SQS through sqslite (GetQueueAttributes in the query
# protocol, SigV4-signed by libcurl) and Azure Storage queues through Azurite (SharedKey-signed
# ?comp=metadata, which Azurite verifies), each read, scaled on, and failing with the service's
# own error when the queue or the key is wrong.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/metrics_lib.sh"
T=$(mktemp -d /tmp/mss-cloud.XXXXXX)
on_exit "rm -rf $T"
NM="$ROOT/tests/npm/node_modules"
if [ ! -d "$NM/sqslite" ] || [ ! -d "$NM/azurite" ]; then
	not_ok "the npm test servers are installed (run make deps)"
	finish
	exit 1
fi
SQS_PORT=$(free_port); AZ_PORT=$(free_port)
node "$NM/sqslite/bin/cli.js" --host 127.0.0.1 --port "$SQS_PORT" >"$T/sqslite.log" 2>&1 &
SQS_PID=$!
on_exit "kill_wait $SQS_PID"
node "$NM/azurite/dist/src/queue/main.js" --queueHost 127.0.0.1 --queuePort "$AZ_PORT" \
	--inMemoryPersistence --disableTelemetry --silent >"$T/azurite.log" 2>&1 &
AZ_PID=$!
on_exit "kill_wait $AZ_PID"
check "sqslite listens on loopback" wait_port "$SQS_PORT" 20
check "azurite listens on loopback" wait_port "$AZ_PORT" 20

# --- SQS ------------------------------------------------------------------------------------
SQS="http://127.0.0.1:$SQS_PORT/"
# sqslite knows its queues only by URLs on "localhost" (the name, not the address).
QURL=$(curl -sf -H "Host: localhost:$SQS_PORT" -d 'Action=CreateQueue&QueueName=jobs' "$SQS" |
	sed -n 's:.*<QueueUrl>\(.*\)</QueueUrl>.*:\1:p')
check "an SQS queue is created ($QURL)" [ -n "$QURL" ]
for _ in $(seq 1 25); do
	curl -sf --data-urlencode "QueueUrl=$QURL" -d 'Action=SendMessage&MessageBody=x' "$SQS" >/dev/null
done

# --- Azure ----------------------------------------------------------------------------------
AZ_ACCOUNT=devstoreaccount1 # Azurite's well-known development account and key
AZ_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
AZ_EP="http://127.0.0.1:$AZ_PORT/$AZ_ACCOUNT"
az() { node "$ROOT/tests/integration/azure_queue.js" "$AZ_EP" "$AZ_ACCOUNT" "$AZ_KEY" "$@"; }
check "an Azure queue is created" az create jobs
check "and 12 messages put on it" az put jobs 12

cat >"$T/apps.json" <<JSON
{"version": 2, "maxContainers": 12, "apps": [
 {"name": "sqs", "priority": 1, "minContainers": 1, "maxContainers": 5,
  "ruleType": "Queue", "metricType": "SQS",
  "config": {"targetQueueLength": 5, "queueURL": "$QURL", "endpoint": "$SQS", "region": "us-east-1"}},
 {"name": "sqsgone", "priority": 2, "minContainers": 0, "maxContainers": 1,
  "ruleType": "SimpleQueue", "metricType": "SQS",
  "config": {"targetQueueLength": 5, "queueURL": "${QURL%jobs}nosuch", "endpoint": "$SQS"}},
 {"name": "azure", "priority": 3, "minContainers": 1, "maxContainers": 5,
  "ruleType": "SimpleQueue", "metricType": "AzureQueue",
  "config": {"targetQueueLength": 3, "queueName": "jobs", "endpoint": "$AZ_EP"}}
]}
JSON
AWS=(AWS_ACCESS_KEY_ID=AKIDTEST AWS_SECRET_ACCESS_KEY=secret AWS_REGION=us-east-1)
start_metrics_agent "$T/agent.log" "$T/apps.json" "${AWS[@]}" \
	AZURE_STORAGE_ACCOUNT_NAME=$AZ_ACCOUNT "AZURE_STORAGE_ACCOUNT_KEY=$AZ_KEY"
check "SQS: ApproximateNumberOfMessages is read" wait_value "$T/agent.log" sqs 25 10
check "SQS: the consumer scales up with it" wait_demand "$T/agent.log" sqs -ge 3 5
check "SQS: a queue that does not exist fails with the service's error code" \
	wait_for 5 grep -q 'msg="read failed" task=sqsgone .*NonExistentQueue' "$T/agent.log"
check "Azure: the approximate message count is read (Azurite checked the signature)" \
	wait_value "$T/agent.log" azure 12 10
check "Azure: the consumer scales up with it" wait_demand "$T/agent.log" azure -ge 3 5
az clear jobs
check "Azure: a cleared queue reads 0" wait_value "$T/agent.log" azure 0 10
check "Azure: and the consumer comes back to its minimum" wait_demand "$T/agent.log" azure -eq 1 10
held=$(demand_of "$T/agent.log" sqs)
kill_wait "$SQS_PID"
check "SQS: with the service gone the reads fail" wait_for 5 grep -q 'msg="read failed" task=sqs ' "$T/agent.log"
sleep 1
check "SQS: and the consumer holds at $held" [ "$(demand_of "$T/agent.log" sqs)" = "$held" ]
stop_agent
check "the agent drains and exits 0" [ "$EXIT_STATUS" -eq 0 ]

# --- a wrong key is refused by the emulator, not read as an empty queue ------------------------
cat >"$T/azure.json" <<JSON
{"maxContainers": 3, "apps": [{"name": "azure", "minContainers": 1, "maxContainers": 3,
  "ruleType": "Queue", "metricType": "AzureQueue",
  "config": {"targetQueueLength": 3, "queueName": "jobs", "endpoint": "$AZ_EP"}}]}
JSON
start_metrics_agent "$T/badkey.log" "$T/azure.json" AZURE_STORAGE_ACCOUNT_NAME=$AZ_ACCOUNT \
	AZURE_STORAGE_ACCOUNT_KEY=c2VjcmV0a2V5c2VjcmV0a2V5c2VjcmV0a2V5c2VjcmV0
check "Azure: a wrong key fails the read with 403 AuthorizationFailure or AuthenticationFailed" \
	wait_for 10 grep -qE 'msg="read failed" task=azure .*403 (AuthenticationFailed|AuthorizationFailure)' "$T/badkey.log"
stop_agent
finish
