"""The Azure SDK's view of an Azurite emulator, for the az:// output tests.

    azure_blob.py ENDPOINT create CONTAINER
    azure_blob.py ENDPOINT download CONTAINER PREFIX DIR   (prints the keys under PREFIX)
"""
import os
import sys

from azure.storage.blob import BlobServiceClient

# Azurite's documented development account.
ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def main() -> None:
    endpoint, command, container, *rest = sys.argv[1:]
    service = BlobServiceClient.from_connection_string(
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
        f"BlobEndpoint={endpoint}/{ACCOUNT};"
    )
    if command == "create":
        service.create_container(container)
    elif command == "download":
        prefix, target = rest
        client = service.get_container_client(container)
        for blob in client.list_blobs(name_starts_with=prefix + "/"):
            rel = blob.name[len(prefix) + 1 :]
            path = os.path.join(target, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(client.download_blob(blob.name).readall())
            print(rel)
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main()
