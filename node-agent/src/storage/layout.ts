// Every path the agent touches: the layout is a contract (the firmware emulator starts the agent
// on its roots, test fixtures pre-seed its files), so it lives in @metropolis/api; agent modules
// import it from here.
export { NodeLayout, type NodeLayoutRoots } from '@metropolis/api';
