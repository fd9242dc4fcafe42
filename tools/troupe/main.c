/* troupe - the node daemon. */
int main(void) { return 0; }
