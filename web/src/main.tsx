import { render } from 'preact';
import { App } from './app';
import './styles.css';

// Follow the host TMS's theme when it says one (?theme=light|dark); otherwise the system's.
const theme = new URLSearchParams(location.search).get('theme');
if (theme === 'light' || theme === 'dark') document.documentElement.dataset.theme = theme;

render(<App />, document.getElementById('app')!);
