// acme-cloud: the sample cloud provider the cloud-cost example runs against.
int main() { return 0; }
