/* placeholder replaced by the daemon below */
int main(void) { return 0; }
