import json
from jsonschema.validators import validator_for
import jsonschema

# Run from the repository root, next to ../shared.
ROOT = "../shared/corpora/jsonschemabench"
PICKS = [
    ("api_token", "Github_easy/o6168.json",
     "Describe an active API token named 'deploy-bot' that expires on 31 December 2025 and has the scopes read and write. Answer in JSON."),
    ("email_request", "Github_easy/o9806.json",
     "Write a JSON request that sends a short greeting e-mail to alice@example.com with the light theme."),
    ("vsls_config", "JsonSchemaStore/vsls.json",
     "Write a Visual Studio Live Share config in JSON that hides node_modules and excludes secrets.json."),
    ("student_record", "Github_easy/o8438.json",
     "Give a JSON student record: ID 'AB12', age 20, three grades and a favourite item 'Apple'."),
    ("named_link", "Github_easy/o79445.json",
     "Give a JSON object with a name and an http link for the Python home page."),
    ("oauth_client", "Github_easy/o10013.json",
     "Describe an OAuth client that uses the client_credentials grant in JSON."),
    ("badge_list", "Github_easy/o21869.json",
     "List two badge assertions with their URLs and priorities between 0 and 1, as JSON."),
    ("ingest_request", "Github_easy/o44051.json",
     "Write a JSON request to ingest version 2 of article 'e-123' from https://example.org/a.xml."),
    ("host_meta", "Github_easy/o65951.json",
     "Write JSON metadata with format version 1 and one host entry modified today on example.com."),
    ("lookup_text", "Github_easy/o73993.json",
     "Give a JSON look-up entry with the text 'Open' and a UUID reference."),
    ("building", "Github_medium/o15725.json",
     "Describe a building called 'Main Hall' in JSON: two continent dimensions, zoom levels 0 to 5, floors 1 and 2, id 7."),
    ("nbgrader_cell", "Github_medium/o53518.json",
     "Give the nbgrader metadata, as JSON, of a graded code cell worth 5 points."),
    ("find_hotels", "Glaiveai2K/find_hotels_8ec3215e.json",
     "Find hotels in Paris from 2024-05-01 to 2024-05-04 in the $$ price range. Reply with the JSON arguments."),
    ("invoice", "Glaiveai2K/generate_invoice_5ae8be73.json",
     "Make a JSON invoice for John Doe (john@example.com) for two notebooks at 3.5 each."),
    ("client_session", "Snowplow/sp_266_Normalized.json",
     "Describe the first client session of a user stored in SQLITE, as JSON."),
    ("ecommerce_item", "Snowplow/sp_31_Normalized.json",
     "Describe one ecommerce item in JSON: a red T-shirt costing 12.99 USD, quantity 2."),
    ("backfill_items", "WashingtonPost/wp_58_Normalized.json",
     "Give JSON dynamic items that backfill from the sections 'sports' and 'world'."),
    ("container_image", "Kubernetes/kb_121_Normalized.json",
     "Describe the container image nginx:1.25 in JSON, with its size in bytes."),
    ("fstab_entry", "JME/JME_24.json",
     "Write an fstab entry as JSON for /dev/sda1 with ext4, options rw,noatime, not read-only."),
    ("read_resource", "MCPspec/ReadResourceRequest.json",
     "Write the MCP JSON-RPC request that reads the resource file:///tmp/notes.txt."),
]
with open("/work/main/tests/data/serve_schemas.jsonl", "w") as out:
    for name, src, prompt in PICKS:
        d = json.load(open(f"{ROOT}/{src}"))
        schema = d["schema"]
        v = validator_for(schema, default=jsonschema.Draft202012Validator)
        v.check_schema(schema)
        ok = [t["data"] for t in d["tests"] if t["valid"]]
        for inst in ok:
            v(schema, format_checker=v.FORMAT_CHECKER).validate(inst)
        print(name, v.__name__, len(json.dumps(schema)))
        row = {"name": name, "schema": schema, "prompt": prompt, "source": f"JSONSchemaBench {src}"}
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
