import { parseArgs } from "node:util"; parseArgs({args:[],options:{}});
